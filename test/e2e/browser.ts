// Headless Chromium for end-to-end tests: Debian's `chromium` package (installed through the service
// stack's aptEnsure when missing; no browser download) driven by playwright-core. Every request that does
// not go to 127.0.0.1 is aborted, so a page can never reach the network.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';
import { aptEnsure } from '../../scripts/services/lib/install.ts';

export const chromiumPath = '/usr/bin/chromium';

export interface HeadlessBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function ensureChromium(): Promise<void> {
  await aptEnsure('e2e', [{ command: 'chromium', pkg: 'chromium' }]);
}

export async function launchChromium(): Promise<HeadlessBrowser> {
  await ensureChromium();
  const userDataDir = mkdtempSync(join(tmpdir(), 'th-chromium-'));
  // A persistent context is how Playwright takes a --user-data-dir: a fresh one per launch.
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath,
    headless: true,
    viewport: { width: 1440, height: 1000 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  await context.route('**/*', (route) => {
    const { hostname } = new URL(route.request().url());
    return hostname === '127.0.0.1' ? route.continue() : route.abort('blockedbyclient');
  });
  return {
    context,
    async close() {
      await context.close().catch(() => {});
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}
