import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../../src/hub.ts';
import { startTestHub, triggerDoc, uniqueNamespace } from '../support/hub.ts';
import { post } from '../support/post.ts';
import { type Sink, startSink } from '../support/sink.ts';
import { type HeadlessBrowser, launchChromium } from './browser.ts';

const token = 'e2e-dashboard-token';
const screenshots = resolve(import.meta.dirname, '../../test-results');

describe('the dashboard in a browser', () => {
  let sink: Sink;
  let hub: Hub;
  let browser: HeadlessBrowser;
  let functionFixed = false;
  const ns = uniqueNamespace('e2e');

  beforeAll(async () => {
    // The function fails webhook events until the test "fixes" it; the cron ticks always go through, so
    // the page shows live numbers next to the dead letter.
    sink = await startSink({
      respond: (request) =>
        request.id?.startsWith('webhook/') && !functionFixed
          ? { status: 500, body: 'boom' }
          : { status: 200 },
    });
    hub = await startTestHub(
      [
        triggerDoc(ns, 'orders', {
          source: { webhook: {} },
          target: { http: { url: sink.url } },
          delivery: { retries: 0 },
        }),
        triggerDoc(ns, 'heartbeat', {
          source: { cron: { every: 1000 } },
          target: { http: { url: sink.url } },
        }),
      ],
      { apiToken: token },
    );
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await hub?.close();
    await sink?.close();
  });

  it('keeps the dashboard behind the API token', async () => {
    const data = await fetch(`${hub.url}/dashboard/api/triggers`);
    expect(data.status).toBe(401);
    expect(await data.json()).toMatchObject({ code: 'TH_ERR_UNAUTHORIZED' });
    const queues = await fetch(`${hub.url}/dashboard/queues/api/queues`);
    expect(queues.status).toBe(401);
    const page = await fetch(`${hub.url}/dashboard`, {
      headers: { accept: 'text/html' },
      redirect: 'manual',
    });
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe('/dashboard/login');
    const wrong = await fetch(`${hub.url}/dashboard/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'token=nope',
      redirect: 'manual',
    });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    const bearer = await fetch(`${hub.url}/dashboard/api/triggers`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(bearer.status).toBe(200);
  });

  it('shows a trigger, replays its dead-lettered event from the page and sees it delivered', async () => {
    const accepted = await post(`${hub.url}/webhooks/${ns}/orders`, '{"order": 42}', {
      'content-type': 'application/json',
      'idempotency-key': 'order-42',
    });
    expect(accepted.status).toBe(202);
    const eventId = 'webhook/order-42';
    await sink.waitFor(() => (sink.counts.get(eventId) ?? 0) >= 1, 60_000, 'the failing first attempt');

    const page = await browser.context.newPage();
    page.setDefaultTimeout(90_000);
    // The page's script (browser/dashboard.ts, served with its types stripped) must run without an error.
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${hub.url}/dashboard`);
    // Not signed in yet: the login form, then the triggers page.
    await page.waitForURL('**/dashboard/login');
    await page.fill('#token', token);
    await page.click('button[type=submit]');
    await page.waitForURL(/\/dashboard$/);
    // The hub has a token: the page's data says so, and the script shows "Sign out".
    await page.getByRole('button', { name: 'Sign out' }).waitFor();

    const row = page.locator(`tr[data-trigger="${ns}/orders"]`);
    await row.waitFor();
    expect(await row.textContent()).toContain('webhook');
    await page.locator(`tr[data-trigger="${ns}/orders"] [data-dead-letters]`, { hasText: /^1$/ }).waitFor();
    await page.locator(`tr[data-trigger="${ns}/heartbeat"]`).waitFor();

    await row.click();
    const deadLetter = page.locator('#details tr[data-job-id]', { hasText: eventId });
    await deadLetter.waitFor();
    await deadLetter.getByRole('button', { name: 'Inspect' }).click();
    const dialog = page.locator('dialog#inspect');
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain('"order": 42');
    await dialog.getByRole('button', { name: 'Close' }).click();

    functionFixed = true;
    await page
      .locator('#details tr[data-job-id]', { hasText: eventId })
      .getByRole('button', { name: 'Replay' })
      .click();
    await page.locator('#toast', { hasText: 'Replayed 1 event' }).waitFor();
    await sink.waitFor(() => sink.delivered.has(eventId), 90_000, 'the replayed event');
    // The page catches up: no dead letter left, one delivery, and the event among the last delivered.
    await page.locator(`tr[data-trigger="${ns}/orders"] [data-dead-letters]`, { hasText: /^0$/ }).waitFor();
    await page.locator(`tr[data-trigger="${ns}/orders"] [data-delivered]`, { hasText: /^1$/ }).waitFor();
    await page.locator('#details tr[data-event-id]', { hasText: eventId }).waitFor();
    await page.locator('#details', { hasText: 'The dead-letter queue is empty.' }).waitFor();
    // Live numbers from the heartbeat trigger.
    await page
      .locator(`tr[data-trigger="${ns}/heartbeat"] [data-delivered]`, { hasText: /^[1-9]\d*$/ })
      .waitFor();
    // The age of the ticks at delivery (scheduled time → the function's answer), in ms or s.
    await page
      .locator(`tr[data-trigger="${ns}/heartbeat"] [data-age-p99]`, { hasText: /^\d+(\.\d)? (ms|s)$/ })
      .waitFor();

    expect(pageErrors).toEqual([]);
    mkdirSync(screenshots, { recursive: true });
    await page.screenshot({ path: join(screenshots, 'dashboard-triggers.png'), fullPage: true });
    await page.close();
  });

  it("mounts bull-board's queue view over every running trigger's queue", async () => {
    const page = await browser.context.newPage();
    page.setDefaultTimeout(90_000);
    await page.goto(`${hub.url}/dashboard/queues`);
    await page.getByText(`${ns}/orders`).first().waitFor();
    await page.getByText(`${ns}/heartbeat`).first().waitFor();
    await page.screenshot({ path: join(screenshots, 'dashboard-queues.png'), fullPage: true });
    await page.close();
  });
});
