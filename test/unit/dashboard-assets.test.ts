// The dashboard's browser files as the hub serves them: the script is JavaScript a browser can run (its
// TypeScript stripped at start-up), everything the page loads sits behind the page's own sign-in, and the
// server's values reach the page as JSON data.

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackfillManager } from '../../src/backfill/manager.ts';
import type { Engine } from '../../src/engine/engine.ts';
import { Instrumentation } from '../../src/instrumentation.ts';
import { dashboardAssets } from '../../src/server/dashboard/assets.ts';
import { cookieName, sessionValue } from '../../src/server/dashboard/auth.ts';
import { dashboardPlugin } from '../../src/server/dashboard/index.ts';

const token = 'unit-dashboard-token';
const bearer = { authorization: `Bearer ${token}` };
const cookie = { cookie: `${cookieName}=${sessionValue(token)}` };

async function dashboardApp(apiToken: string | undefined): Promise<FastifyInstance> {
  const app = Fastify();
  // No trigger runs: the routes under test never reach the engine or the backfills.
  const engine = { list: () => [] } as unknown as Engine;
  await app.register(
    dashboardPlugin({
      engine,
      instrumentation: new Instrumentation(),
      backfills: {} as BackfillManager,
      apiToken,
    }),
  );
  await app.ready();
  return app;
}

/** The URLs the page loads: its stylesheet and script. */
function assetsOf(html: string): string[] {
  return [...html.matchAll(/<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
}

function pageData(html: string): unknown {
  const json = /<script type="application\/json" id="page-data">([^<]*)<\/script>/.exec(html)?.[1];
  return json === undefined ? undefined : JSON.parse(json);
}

describe('the dashboard script', () => {
  it('is JavaScript that parses as the ES module the page loads', () => {
    const { script } = dashboardAssets();
    expect(script).toContain('setInterval(refresh, 2000)');
    const dir = mkdtempSync(join(tmpdir(), 'th-dashboard-'));
    try {
      const file = join(dir, 'dashboard.mjs');
      writeFileSync(file, script);
      // Throws (with node's syntax error) when the file is not valid JavaScript.
      execFileSync(process.execPath, ['--check', file], { stdio: 'pipe' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is made without printing an experimental-feature warning at hub start', () => {
    const assets = resolve(import.meta.dirname, '../../src/server/dashboard/assets.ts');
    const run = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { dashboardAssets } = await import(${JSON.stringify(assets)});
         if (!dashboardAssets().script.includes('refresh')) process.exit(3);`,
      ],
      { encoding: 'utf8' },
    );
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });
});

describe('the dashboard page and its files', () => {
  let app: FastifyInstance;
  let open: FastifyInstance;
  beforeAll(async () => {
    app = await dashboardApp(token);
    open = await dashboardApp(undefined);
  });
  afterAll(async () => {
    await app?.close();
    await open?.close();
  });

  it('loads its script and stylesheet from routes that need the same sign-in as the page', async () => {
    const page = await app.inject({ url: '/dashboard', headers: { accept: 'text/html', ...cookie } });
    expect(page.statusCode).toBe(200);
    const urls = assetsOf(page.body);
    expect(urls.sort()).toEqual(['/dashboard/assets/dashboard.css', '/dashboard/assets/dashboard.js']);

    const signedOut = await app.inject({ url: '/dashboard', headers: { accept: 'text/html' } });
    expect(signedOut.statusCode).toBe(303);
    expect(signedOut.headers.location).toBe('/dashboard/login');
    const wrongCookie = { cookie: `${cookieName}=${sessionValue('another token')}` };
    for (const url of urls) {
      for (const headers of [{}, wrongCookie, { authorization: 'Bearer nope' }]) {
        const refused = await app.inject({ url, headers });
        expect(refused.statusCode, url).toBe(401);
        expect(refused.json()).toMatchObject({ code: 'TH_ERR_UNAUTHORIZED' });
      }
      for (const headers of [cookie, bearer])
        expect((await app.inject({ url, headers })).statusCode).toBe(200);
    }
  });

  it('serves the script as JavaScript and the stylesheet as CSS, as read at start-up', async () => {
    const { script, style } = dashboardAssets();
    const js = await app.inject({ url: '/dashboard/assets/dashboard.js', headers: bearer });
    expect(js.headers['content-type']).toBe('application/javascript; charset=utf-8');
    expect(js.body).toBe(script);
    const css = await app.inject({ url: '/dashboard/assets/dashboard.css', headers: bearer });
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    expect(css.body).toBe(style);
  });

  it('passes "show Sign out" to the page as JSON data, true only when a token guards the dashboard', async () => {
    const guarded = await app.inject({ url: '/dashboard', headers: bearer });
    expect(pageData(guarded.body)).toEqual({ signOut: true });
    const unguarded = await open.inject({ url: '/dashboard' });
    expect(unguarded.statusCode).toBe(200);
    expect(pageData(unguarded.body)).toEqual({ signOut: false });
    expect(unguarded.body).toContain('<form id="sign-out" method="post" action="/dashboard/logout" hidden>');
  });

  it('serves the sign-in page without a session, its stylesheet inline, the notice only after a wrong token', async () => {
    const form = await app.inject({ url: '/dashboard/login' });
    expect(form.statusCode).toBe(200);
    expect(form.body).toMatch(/<style>\n[^<]*\.error \{[^<]*<\/style>/);
    expect(form.body).not.toContain('role="alert"');
    expect(form.body).not.toMatch(/<!--(login\.css|\/?failed)-->/);
    const wrong = await app.inject({
      method: 'POST',
      url: '/dashboard/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'token=nope',
    });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.body).toContain(
      '<p class="error" role="alert">That token is not the one the hub was started with.</p>',
    );
  });
});
