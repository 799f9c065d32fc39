import { afterEach, describe, expect, it } from 'vitest';
import type { HubEvent } from '../../../src/envelope/event.ts';
import type { DeadLetterEntry } from '../../../src/queue/dead-letter.ts';
import { startTestHub, triggerDoc, uniqueNamespace } from '../../support/hub.ts';
import { post, postMany } from '../../support/post.ts';
import { type Received, type Reply, type Sink, startSink } from '../../support/sink.ts';

const fastRetries = { initialMs: 200, maxMs: 1000, multiplier: 2, jitter: 0.2 };
const idHeader = (prefix: string) => (i: number) => ({ 'idempotency-key': `${prefix}-${i}` });

describe('batched delivery (delivery.batch)', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const close of cleanup.splice(0).reverse()) await close();
  });

  async function sinkAnswering(respond?: (request: Received) => Reply): Promise<Sink> {
    const sink = await startSink(respond ? { respond } : {});
    cleanup.push(() => sink.close());
    return sink;
  }

  async function hubFor(sink: Sink, delivery: Record<string, unknown>) {
    const ns = uniqueNamespace('batch');
    const hub = await startTestHub([
      triggerDoc(ns, 'etl', { source: { webhook: {} }, target: { http: { url: sink.url } }, delivery }),
    ]);
    cleanup.push(() => hub.close());
    return { hub, webhook: `${hub.url}/webhooks/${ns}/etl`, dlq: `${hub.url}/api/dlq/${ns}/etl` };
  }

  async function deadLetters(dlqUrl: string, expected: number) {
    let listing = { count: 0, entries: [] as DeadLetterEntry[] };
    const short = () => listing.count < expected || listing.entries.length < expected;
    for (let i = 0; i < 600 && short(); i++) {
      listing = (await (await fetch(dlqUrl)).json()) as typeof listing;
      if (short()) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return listing;
  }

  it('delivers 1,000 events in CloudEvents batches of at most maxEvents, every event exactly once', async () => {
    const sink = await sinkAnswering();
    const { hub, webhook } = await hubFor(sink, { batch: { maxEvents: 50, maxWaitMs: 200 } });
    const accepted = await postMany(webhook, 1000, {
      headersFor: idHeader('row'),
      bodyFor: (i) => ({ row: i }),
    });
    expect(accepted.every((result) => result.status === 202)).toBe(true);
    await sink.waitFor(() => sink.delivered.size === 1000, 120_000, '1,000 delivered events');

    const requests = sink.received;
    expect(
      requests.every(
        (r) => r.headers['content-type'] === 'application/cloudevents-batch+json; charset=utf-8',
      ),
    ).toBe(true);
    expect(Math.max(...requests.map((r) => r.ids.length))).toBeLessThanOrEqual(50);
    expect(requests.length).toBeLessThan(1000); // batched: fewer requests than events
    expect([...sink.counts.values()].every((count) => count === 1)).toBe(true);
    expect(requests.reduce((sum, r) => sum + r.ids.length, 0)).toBe(1000);
    // Each element is a structured-mode CloudEvent with its data.
    const events = requests.flatMap((r) => JSON.parse(r.body.toString()) as HubEvent[]);
    expect(events.find((event) => event.id === 'webhook/row-7')).toMatchObject({
      specversion: '1.0',
      type: 'io.triggerhub.webhook',
      data: { row: 7 },
    });

    const metrics = await (await fetch(`${hub.url}/metrics`)).text();
    const delivered = /trigger_hub_events_delivered_total\{trigger="[^"]+\/etl"[^}]*\} (\d+)/.exec(metrics);
    expect(Number(delivered?.[1])).toBe(1000);
    const batchCount = /trigger_hub_delivery_batch_size_count\{trigger="[^"]+\/etl"\} (\d+)/.exec(metrics);
    expect(Number(batchCount?.[1])).toBe(requests.length);
  });

  it('keeps every request body within maxBytes', async () => {
    const sink = await sinkAnswering();
    const { webhook } = await hubFor(sink, { batch: { maxEvents: 100, maxWaitMs: 200, maxBytes: 4096 } });
    await postMany(webhook, 200, {
      headersFor: idHeader('wide'),
      bodyFor: (i) => ({ i, pad: 'x'.repeat(200) }),
    });
    await sink.waitFor(() => sink.delivered.size === 200, 60_000, '200 delivered events');
    expect(Math.max(...sink.received.map((r) => r.body.length))).toBeLessThanOrEqual(4096);
    expect(Math.max(...sink.received.map((r) => r.ids.length))).toBeGreaterThan(1);
    expect([...sink.counts.values()].every((count) => count === 1)).toBe(true);
  });

  it('sends a batch that never fills once its first event waited maxWaitMs', async () => {
    const sink = await sinkAnswering();
    const { webhook } = await hubFor(sink, { batch: { maxEvents: 100, maxWaitMs: 300 } });
    for (let i = 0; i < 6; i++) {
      const result = await post(webhook, JSON.stringify({ drip: i }), {
        'content-type': 'application/json',
        'idempotency-key': `drip-${i}`,
      });
      expect(result.status).toBe(202);
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    await sink.waitFor(() => sink.delivered.size === 6, 30_000, 'the 6 trickled events');
    // No batch ever reached maxEvents: only the maxWaitMs timer can have sent them.
    expect(sink.received.every((r) => r.ids.length < 100)).toBe(true);
    expect([...sink.counts.values()].every((count) => count === 1)).toBe(true);
  });

  it('retries a batch answered 500 twice as a whole, then delivers all of it', async () => {
    let answered = 0;
    const sink = await sinkAnswering(() =>
      ++answered <= 2 ? { status: 500, body: 'warming up' } : { status: 200 },
    );
    const { hub, webhook } = await hubFor(sink, {
      retries: 5,
      backoff: fastRetries,
      batch: { maxEvents: 100, maxWaitMs: 2000 },
    });
    await postMany(webhook, 40, { headersFor: idHeader('retry') });
    await sink.waitFor(() => sink.delivered.size === 40, 60_000, '40 delivered events');

    const [first, second] = sink.received;
    // The events of a failed batch share one backoff, so they come back and are sent together again.
    for (const [index, failedRequest] of [first!, second!].entries()) {
      const retried = sink.received.slice(index + 1).find((r) => r.ids.includes(failedRequest.ids[0]!));
      expect(retried?.ids).toEqual(expect.arrayContaining(failedRequest.ids));
    }
    expect(sink.received.slice(2).every((r) => r.ids.every((id) => sink.delivered.has(id)))).toBe(true);
    const failed = (await (await fetch(`${hub.url}/metrics`)).text()).match(
      /trigger_hub_delivery_failures_total\{trigger="[^"]+\/etl",will_retry="true"\} (\d+)/,
    );
    expect(Number(failed?.[1])).toBe(first!.ids.length + second!.ids.length); // counted per event
  });

  it('dead-letters the events of a batch out of attempts with the batch’s last status and excerpt', async () => {
    const sink = await sinkAnswering(() => ({ status: 503, body: 'transform pool exhausted' }));
    const { dlq, webhook } = await hubFor(sink, {
      retries: 1,
      backoff: fastRetries,
      batch: { maxEvents: 10, maxWaitMs: 200 },
    });
    await postMany(webhook, 10, { headersFor: idHeader('doomed') });
    const listing = await deadLetters(dlq, 10);
    expect(listing.count).toBe(10);
    for (const entry of listing.entries) {
      expect(entry.attempts).toBe(2);
      expect(entry.lastAttempt).toMatchObject({ status: 503, excerpt: 'transform pool exhausted' });
    }
  });

  it('sends the open batch at once when the hub shuts down, instead of after maxWaitMs', async () => {
    const sink = await sinkAnswering();
    const ns = uniqueNamespace('batch');
    const hub = await startTestHub(
      [
        triggerDoc(ns, 'etl', {
          source: { webhook: {} },
          target: { http: { url: sink.url } },
          delivery: { batch: { maxEvents: 100, maxWaitMs: 60_000 } },
        }),
      ],
      { shutdownDeadlineMs: 20_000 },
    );
    let closed = false;
    try {
      await postMany(`${hub.url}/webhooks/${ns}/etl`, 5, { headersFor: idHeader('last') });
      const queue = hub.engine.get(`${ns}/etl`)!.running!.queue.queue;
      for (let i = 0; i < 300 && (await queue.getActiveCount()) < 5; i++)
        await new Promise((resolve) => setTimeout(resolve, 100));
      expect(await queue.getActiveCount()).toBe(5); // all five wait in the open batch
      expect(sink.received).toHaveLength(0);
      await hub.close();
      closed = true;
      expect(sink.delivered.size).toBe(5);
      expect(sink.received).toHaveLength(1);
    } finally {
      if (!closed) await hub.close();
    }
  });

  it('with onFailure: split, isolates the one event the function rejects and delivers all the others', async () => {
    const poison = 'webhook/row-poison';
    const sink = await sinkAnswering((request) =>
      request.ids.includes(poison) ? { status: 400, body: `cannot parse ${poison}` } : { status: 200 },
    );
    const { dlq, webhook } = await hubFor(sink, {
      retries: 3,
      backoff: fastRetries,
      batch: { maxEvents: 50, maxWaitMs: 500, onFailure: 'split' },
    });
    const rows = await postMany(webhook, 200, {
      headersFor: (i) => ({ 'idempotency-key': i === 123 ? 'row-poison' : `row-${i}` }),
    });
    expect(rows.every((result) => result.status === 202)).toBe(true);
    await sink.waitFor(() => sink.delivered.size === 199, 60_000, 'the 199 good events');
    const listing = await deadLetters(dlq, 1);
    expect(listing.count).toBe(1);
    expect(listing.entries[0]).toMatchObject({
      event: { id: poison },
      attempts: 1, // a 400 is final: no retry, the split found it at once
      lastAttempt: { status: 400, excerpt: `cannot parse ${poison}` },
    });
    expect(sink.delivered.has(poison)).toBe(false);
    // The poisoned event ended alone in a request.
    expect(sink.received.some((r) => r.ids.length === 1 && r.ids[0] === poison)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect((await deadLetters(dlq, 1)).count).toBe(1);
  });
});
