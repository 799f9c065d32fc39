// The dashboard's browser files (browser/: HTML shells, stylesheets, the page's TypeScript), read once per
// process and served as they are: no build step. The script's types are stripped with Node's own
// module.stripTypeScriptTypes, which only blanks them out (line and column numbers stay those of the
// source). Server-side values reach the page as JSON in the page, never spliced into the script.

import { readFileSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { join } from 'node:path';
import type { PageData } from './browser/api.ts';

export interface DashboardAssets {
  /** browser/dashboard.ts as JavaScript (an ES module). */
  script: string;
  style: string;
  triggersPage(data: PageData): string;
  loginPage(failed: boolean): string;
}

const browserDir = join(import.meta.dirname, 'browser');

function read(file: string): string {
  return readFileSync(join(browserDir, file), 'utf8');
}

/** `html` cut at its one `<!--name-->` marker; a shell without it fails at start-up, not on a request. */
function cut(html: string, file: string, name: string): [before: string, after: string] {
  const marker = `<!--${name}-->`;
  const at = html.indexOf(marker);
  if (at < 0 || html.includes(marker, at + 1)) throw new Error(`browser/${file} needs exactly one ${marker}`);
  return [html.slice(0, at), html.slice(at + marker.length)];
}

/**
 * Node 24 still calls stripTypeScriptTypes experimental and would print that warning on every hub start.
 * The call is synchronous, so muting process.emitWarning around it mutes that one warning and nothing else.
 */
function stripTypes(source: string): string {
  const emitWarning = process.emitWarning;
  process.emitWarning = () => {};
  try {
    return stripTypeScriptTypes(source);
  } finally {
    process.emitWarning = emitWarning;
  }
}

function load(): DashboardAssets {
  const [pageHead, pageTail] = cut(read('dashboard.html'), 'dashboard.html', 'page-data');
  // The sign-in page carries its stylesheet inline: it is shown before there is a session, and every other
  // route under /dashboard needs one.
  const [loginHead, loginRest] = cut(read('login.html'), 'login.html', 'login.css');
  // The failure notice is written in the shell, between <!--failed--> and <!--/failed-->.
  const [formHead, failedRest] = cut(loginRest, 'login.html', 'failed');
  const [notice, formTail] = cut(failedRest, 'login.html', '/failed');
  const loginStart = `${loginHead}<style>\n${read('login.css')}</style>${formHead}`;
  return {
    script: stripTypes(read('dashboard.ts')),
    style: read('dashboard.css'),
    // `<` escaped, so no value can close the script element.
    triggersPage: (data) =>
      `${pageHead}<script type="application/json" id="page-data">${JSON.stringify(data).replaceAll('<', '\\u003c')}</script>${pageTail}`,
    loginPage: (failed) => (failed ? loginStart + notice + formTail : loginStart + formTail),
  };
}

let assets: DashboardAssets | undefined;

export function dashboardAssets(): DashboardAssets {
  assets ??= load();
  return assets;
}
