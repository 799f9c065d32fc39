import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  freePort,
  runCli,
  spawnHub,
  triggerDoc,
  uniqueNamespace,
  writeTriggerDir,
} from '../../support/hub.ts';
import { post, postMany } from '../../support/post.ts';
import { startSink } from '../../support/sink.ts';

describe('standalone mode without REDIS_URL', () => {
  it('starts its own redis-server (AOF on), delivers, and stops it on SIGTERM', async () => {
    const sink = await startSink();
    const dataDir = mkdtempSync(join(tmpdir(), 'th-data-'));
    const dir = writeTriggerDir([
      triggerDoc('default', 'hello', { source: { webhook: {} }, target: { http: { url: sink.url } } }),
    ]);
    const hub = await spawnHub(dir, await freePort(), { REDIS_URL: '', TH_DATA_DIR: dataDir });
    try {
      expect(hub.output()).toMatch(/started a local redis-server/);
      const answer = await post(`${hub.url}/webhooks/default/hello`, '{"hi":1}', {
        'content-type': 'application/json',
        'idempotency-key': 'hello-1',
      });
      expect(answer.status).toBe(202);
      await sink.waitFor(() => sink.delivered.has('webhook/hello-1'), 20_000, 'the delivery');
      expect(existsSync(join(dataDir, 'redis', 'appendonlydir'))).toBe(true);
    } finally {
      hub.child.kill('SIGTERM');
      expect(await hub.exited).toBe(0);
      await sink.close();
    }
    expect(existsSync(join(dataDir, 'redis', 'redis.sock'))).toBe(false);
  });
});

describe('the dlq commands and /metrics', () => {
  it('list dead letters with status and replay them through the CLI; metrics count each step per trigger', async () => {
    let healthy = false;
    const sink = await startSink({
      respond: () => (healthy ? { status: 200 } : { status: 422, body: 'unprocessable' }),
    });
    const ns = uniqueNamespace('cli');
    const dir = writeTriggerDir([
      triggerDoc(ns, 'fn', { source: { webhook: {} }, target: { http: { url: sink.url } } }),
    ]);
    const hub = await spawnHub(dir, await freePort());
    try {
      await postMany(`${hub.url}/webhooks/${ns}/fn`, 10, {
        headersFor: (i) => ({ 'idempotency-key': `d-${i}` }),
      });
      let listed = {
        count: 0,
        entries: [] as Array<{ jobId: string; attempts: number; lastAttempt?: { status?: number } }>,
      };
      for (let i = 0; i < 60 && listed.count < 10; i++) {
        const run = await runCli(['dlq', 'list', `${ns}/fn`, '--output', 'json']);
        expect(run.code).toBe(0);
        listed = JSON.parse(run.stdout);
        if (listed.count < 10) await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect(listed.count).toBe(10);
      expect(listed.entries.every((e) => e.attempts === 1 && e.lastAttempt?.status === 422)).toBe(true);

      const text = await runCli(['dlq', 'list', `${ns}/fn`]);
      expect(text.stdout).toMatch(/^10 dead-lettered event\(s\)/);

      healthy = true;
      const one = await runCli([
        'dlq',
        'replay',
        `${ns}/fn`,
        '--job',
        listed.entries[0]!.jobId,
        '--output',
        'json',
      ]);
      expect(JSON.parse(one.stdout)).toEqual({ replayed: 1 });
      const rest = await runCli(['dlq', 'replay', `${ns}/fn`, '--all']);
      expect(rest.stdout).toBe(`replayed 9 event(s) of ${ns}/fn\n`);
      expect(rest.stderr).toMatch(/replayed 9 of 9\n$/); // progress, on stderr
      await sink.waitFor(() => sink.delivered.size === 10, 30_000, 'the 10 replayed events');

      const usage = await runCli(['dlq', 'replay', `${ns}/fn`]);
      expect(usage.code).toBe(1);
      expect(usage.stderr).toMatch(/--job <id>, --where <cel> or --all/);

      const metrics = await (await fetch(`${hub.url}/metrics`)).text();
      const line = (name: string) =>
        new RegExp(`^${name}\\{[^}]*trigger="${ns}/fn"[^}]*\\} (\\d+)`, 'm').exec(metrics)?.[1];
      expect(line('trigger_hub_events_received_total')).toBe('10');
      expect(line('trigger_hub_events_enqueued_total')).toBe('10');
      expect(line('trigger_hub_events_dead_lettered_total')).toBe('10');
      expect(line('trigger_hub_events_delivered_total')).toBe('10');
      expect(metrics).toMatch(
        new RegExp(`trigger_hub_queue_depth\\{trigger="${ns}/fn",state="waiting"\\} 0`),
      );
    } finally {
      hub.child.kill('SIGTERM');
      await hub.exited;
      await sink.close();
    }
  });
});
