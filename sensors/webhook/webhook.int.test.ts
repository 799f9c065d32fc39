import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../../src/hub.ts';
import { startTestHub, triggerDoc, uniqueNamespace } from '../../test/support/hub.ts';
import { postMany } from '../../test/support/post.ts';
import { type Sink, startSink } from '../../test/support/sink.ts';

describe('webhook → queue → HTTP target', () => {
  let sink: Sink;
  let hub: Hub;
  const ns = uniqueNamespace('bulk');

  beforeAll(async () => {
    sink = await startSink();
    hub = await startTestHub([
      triggerDoc(ns, 'orders', {
        source: { webhook: {} },
        target: { http: { url: sink.url } },
        delivery: { concurrency: 64 },
      }),
    ]);
  });

  afterAll(async () => {
    await hub?.close();
    await sink?.close();
  });

  it('delivers 10,000 webhook events as 10,000 distinct deliveries, and re-posted delivery ids add none', async () => {
    const url = `${hub.url}/webhooks/${ns}/orders`;
    const headersFor = (i: number) => ({ 'idempotency-key': `order-${i}` });
    const first = await postMany(url, 10_000, { concurrency: 64, headersFor });
    expect(first.filter((r) => r.status !== 202)).toEqual([]);
    await sink.waitFor(() => sink.delivered.size === 10_000, 120_000, '10,000 deliveries');

    const again = await postMany(url, 10_000, { concurrency: 64, headersFor });
    expect(again.filter((r) => r.status !== 202)).toEqual([]);
    // Let any wrongly enqueued duplicate reach the sink before counting.
    const queue = hub.engine.get(`${ns}/orders`)!.running!.queue.queue;
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed');
    expect(counts).toMatchObject({ waiting: 0, active: 0, delayed: 0, failed: 0, completed: 10_000 });
    expect(sink.received.length).toBe(10_000);
    expect([...sink.counts.values()].every((n) => n === 1)).toBe(true);
  });

  it('sends binary-mode CloudEvents with the id as Idempotency-Key', async () => {
    const sample = sink.received.find((r) => r.id === 'webhook/order-7')!;
    expect(sample.headers).toMatchObject({
      'ce-specversion': '1.0',
      'ce-id': 'webhook/order-7',
      'ce-type': 'io.triggerhub.webhook',
      'ce-source': `/triggerhub/webhook/${ns}/orders`,
      'idempotency-key': 'webhook/order-7',
    });
    expect(sample.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(sample.body.toString())).toEqual({ seq: 7 });
  });
});
