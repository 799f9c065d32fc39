import { afterEach, describe, expect, it } from 'vitest';
import type { Hub } from '../../../src/hub.ts';
import type { DeadLetterEntry } from '../../../src/queue/dead-letter.ts';
import { freePort, startTestHub, triggerDoc, uniqueNamespace } from '../../support/hub.ts';
import { post, postMany } from '../../support/post.ts';
import { type Sink, startSink } from '../../support/sink.ts';

const fastRetries = { initialMs: 200, maxMs: 2000, multiplier: 2, jitter: 0.2 };

describe('delivery failures', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const close of cleanup.splice(0).reverse()) await close();
  });

  async function hubFor(sinkUrl: string, delivery: Record<string, unknown>) {
    const ns = uniqueNamespace('fail');
    const hub: Hub = await startTestHub([
      triggerDoc(ns, 'fn', { source: { webhook: {} }, target: { http: { url: sinkUrl } }, delivery }),
    ]);
    cleanup.push(() => hub.close());
    return { hub, ns, webhook: `${hub.url}/webhooks/${ns}/fn`, key: `${ns}/fn` };
  }

  async function track(sink: Promise<Sink>): Promise<Sink> {
    const started = await sink;
    cleanup.push(() => started.close());
    return started;
  }

  it('delivers every event once a target that was down for 20 s comes up, dead-lettering none', async () => {
    const port = await freePort();
    const { hub, webhook, key } = await hubFor(`http://127.0.0.1:${port}/fn`, {
      retries: 20,
      backoff: fastRetries,
    });
    const accepted = await postMany(webhook, 300, { headersFor: (i) => ({ 'idempotency-key': `e-${i}` }) });
    expect(accepted.every((r) => r.status === 202)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 20_000));
    const sink = await track(startSink({ port }));
    await sink.waitFor(() => sink.delivered.size === 300, 60_000, '300 deliveries');
    const queue = hub.engine.get(key)!.running!.queue.queue;
    expect(await queue.getFailedCount()).toBe(0);
  });

  it('dead-letters every event of a target answering 500 with status and body excerpt, and replay delivers them', async () => {
    let healthy = false;
    const sink = await track(
      startSink({
        respond: () => (healthy ? { status: 200 } : { status: 500, body: `boom ${'x'.repeat(3000)}` }),
      }),
    );
    const { hub, webhook, ns } = await hubFor(sink.url, {
      retries: 2,
      backoff: { ...fastRetries, initialMs: 50 },
    });
    await postMany(webhook, 50, { headersFor: (i) => ({ 'idempotency-key': `e-${i}` }) });
    const dlqUrl = `${hub.url}/api/dlq/${ns}/fn`;
    await sink.waitFor(() => sink.received.length === 150, 60_000, '3 attempts of 50 events');
    let listing: { count: number; entries: DeadLetterEntry[] } = { count: 0, entries: [] };
    for (let i = 0; i < 100 && listing.count < 50; i++) {
      listing = (await (await fetch(dlqUrl)).json()) as typeof listing;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(listing.count).toBe(50);
    const entry = listing.entries[0]!;
    expect(entry.attempts).toBe(3);
    expect(entry.lastAttempt?.status).toBe(500);
    expect(entry.lastAttempt?.excerpt).toMatch(/^boom x+$/);
    expect(Buffer.byteLength(entry.lastAttempt?.excerpt ?? '')).toBe(1024);
    expect(entry.event.id).toMatch(/^webhook\/e-\d+$/);

    healthy = true;
    const replay = await post(`${dlqUrl}/replay`, '{}');
    expect(replay.json()).toEqual({ replayed: 50 });
    await sink.waitFor(() => sink.delivered.size === 50, 30_000, '50 replayed deliveries');
    const after = (await (await fetch(dlqUrl)).json()) as typeof listing;
    expect(after.count).toBe(0);
  });

  it('dead-letters an event the target answers 400 after exactly one attempt', async () => {
    const sink = await track(startSink({ respond: () => ({ status: 400, body: 'bad input' }) }));
    const { hub, webhook, ns } = await hubFor(sink.url, { retries: 5, backoff: fastRetries });
    await postMany(webhook, 20, { headersFor: (i) => ({ 'idempotency-key': `e-${i}` }) });
    const dlqUrl = `${hub.url}/api/dlq/${ns}/fn`;
    let listing = { count: 0, entries: [] as DeadLetterEntry[] };
    for (let i = 0; i < 200 && listing.count < 20; i++) {
      listing = (await (await fetch(dlqUrl)).json()) as typeof listing;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(listing.count).toBe(20);
    expect(listing.entries.every((e) => e.attempts === 1 && e.lastAttempt?.status === 400)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(sink.received.length).toBe(20);
  });

  it('waits as long as a 429 Retry-After says before the next attempt', async () => {
    const sink = await track(
      startSink({
        respond: (request) =>
          sink.counts.get(request.id!) === 1
            ? { status: 429, headers: { 'retry-after': '2' } }
            : { status: 200 },
      }),
    );
    const { webhook } = await hubFor(sink.url, {
      retries: 3,
      backoff: { ...fastRetries, initialMs: 10, maxMs: 10 },
    });
    await post(webhook, '{"a":1}', { 'content-type': 'application/json', 'idempotency-key': 'slow-down' });
    await sink.waitFor(() => sink.delivered.size === 1, 30_000, 'the retried delivery');
    const [first, second] = sink.received;
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(1900);
  });

  it('keeps delivering other events while one keeps failing (no head-of-line blocking)', async () => {
    const sink = await track(
      startSink({
        respond: (request) => (request.id === 'webhook/poison-pill' ? { status: 503 } : { status: 200 }),
      }),
    );
    const { webhook } = await hubFor(sink.url, {
      retries: 50,
      concurrency: 1,
      backoff: { ...fastRetries, initialMs: 1000 },
    });
    await post(webhook, '{}', { 'content-type': 'application/json', 'idempotency-key': 'poison-pill' });
    await postMany(webhook, 100, { concurrency: 4, headersFor: (i) => ({ 'idempotency-key': `ok-${i}` }) });
    await sink.waitFor(() => sink.delivered.size === 100, 30_000, 'the 100 healthy events');
    expect(sink.delivered.has('webhook/poison-pill')).toBe(false);
  });
});
