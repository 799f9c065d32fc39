import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TailLine } from '../../src/cli/commands/tail.ts';
import type { Hub } from '../../src/hub.ts';
import { freePort, redisUrl, runCli, startTestHub, triggerDoc, uniqueNamespace } from '../support/hub.ts';
import { post } from '../support/post.ts';
import { type Sink, startSink } from '../support/sink.ts';

const cli = resolve(import.meta.dirname, '../../src/cli/main.ts');
const token = 'e2e-cli-token';

describe('trigger-hub status and tail against a running hub', () => {
  let sink: Sink;
  let hub: Hub;
  const ns = uniqueNamespace('cli');

  beforeAll(async () => {
    sink = await startSink({
      respond: (request) => (request.id?.includes('bad') ? { status: 400, body: 'no' } : { status: 200 }),
    });
    hub = await startTestHub(
      [
        triggerDoc(ns, 'orders', { source: { webhook: {} }, target: { http: { url: sink.url } } }),
        triggerDoc(ns, 'audit', { source: { webhook: {} }, target: { http: { url: sink.url } } }),
      ],
      { apiToken: token },
    );
  });

  afterAll(async () => {
    await hub?.close();
    await sink?.close();
  });

  it('prints a table of the triggers with their queue counters, and the same as JSON', async () => {
    const headers = { 'content-type': 'application/json' };
    expect(
      (await post(`${hub.url}/webhooks/${ns}/orders`, '{}', { ...headers, 'idempotency-key': 'ok-1' }))
        .status,
    ).toBe(202);
    expect(
      (await post(`${hub.url}/webhooks/${ns}/orders`, '{}', { ...headers, 'idempotency-key': 'bad-1' }))
        .status,
    ).toBe(202);
    await sink.waitFor(() => sink.delivered.has('webhook/ok-1') && sink.counts.has('webhook/bad-1'));

    const json = await runCli(['status', '--url', hub.url, '--output', 'json'], { TH_API_TOKEN: token });
    expect(json.code).toBe(0);
    const { triggers } = JSON.parse(json.stdout) as {
      triggers: Array<{
        key: string;
        state: string;
        queue: Record<string, number>;
        live?: { totals: { delivered: number } };
      }>;
    };
    const orders = triggers.find((trigger) => trigger.key === `${ns}/orders`)!;
    expect(orders.state).toBe('running');
    expect(orders.queue.completed).toBe(1);
    // The rejected event is dead-lettered once its job has moved to the failed set.
    expect(orders.queue.failed + orders.queue.active).toBe(1);
    expect(orders.live?.totals.delivered).toBe(1);

    const text = await runCli(['status', '--url', hub.url], { TH_API_TOKEN: token });
    expect(text.code).toBe(0);
    const lines = text.stdout.trim().split('\n');
    expect(lines[0]).toMatch(
      /^TRIGGER\s+SOURCE\s+STATE\s+WAITING\s+ACTIVE\s+DELAYED\s+DEAD\s+DONE\/1H\s+QPS\s+FAIL%\s+TARGET$/,
    );
    expect(lines.find((line) => line.startsWith(`${ns}/audit `))).toMatch(
      /webhook\s+running\s+0\s+0\s+0\s+0\s+0/,
    );
  }, 300_000);

  it('exits 1 with the reason when the token is missing or the hub is not there', async () => {
    const unauthorized = await runCli(['status', '--url', hub.url], { TH_API_TOKEN: '' });
    expect(unauthorized.code).toBe(1);
    expect(unauthorized.stderr).toContain('set TH_API_TOKEN');
    const nobody = `http://127.0.0.1:${await freePort()}`;
    const unreachable = await runCli(['status', '--url', nobody], { TH_API_TOKEN: token });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain(`cannot reach the hub at ${nobody} (ECONNREFUSED)`);
    // A usage error is told apart from a failure: exit 2.
    expect((await runCli(['status', '--output', 'xml'])).code).toBe(2);
  }, 300_000);

  it('follows a trigger live: the event is enqueued, then delivered, in order', async () => {
    const child = spawn(
      process.execPath,
      [cli, 'tail', `${ns}/audit`, '--max-events', '2', '--output', 'json'],
      {
        env: { ...process.env, REDIS_URL: redisUrl() },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise<number | null>((resolveExit) => child.on('exit', resolveExit));
    const deadline = Date.now() + 120_000;
    while (!stderr.includes('following')) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`tail did not start: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const accepted = await post(`${hub.url}/webhooks/${ns}/audit`, '{"audit": true}', {
      'content-type': 'application/json',
      'idempotency-key': 'audit-1',
    });
    expect(accepted.status).toBe(202);
    expect(await exited).toBe(0);
    const lines = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as TailLine);
    expect(lines).toEqual([
      expect.objectContaining({
        event: 'enqueued',
        id: 'webhook/audit-1',
        trigger: `${ns}/audit`,
        type: 'io.triggerhub.webhook',
      }),
      expect.objectContaining({ event: 'delivered', id: 'webhook/audit-1', status: 200 }),
    ]);
  }, 300_000);
});
