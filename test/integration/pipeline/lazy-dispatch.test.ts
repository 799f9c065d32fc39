// Lazy dispatch: a trigger's delivery Worker runs only while its queue has work (src/dispatch/waker.ts).
import { describe, expect, it } from 'vitest';
import { startTestHub, triggerDoc, uniqueNamespace } from '../../support/hub.ts';
import { post } from '../../support/post.ts';
import { startSink } from '../../support/sink.ts';
import { waitFor } from '../../support/wait.ts';

async function workers(hubUrl: string): Promise<number> {
  const text = await (await fetch(`${hubUrl}/metrics`)).text();
  return Number(/^trigger_hub_dispatch_workers ([0-9.]+)$/m.exec(text)?.[1]);
}

describe('lazy dispatch', () => {
  it('starts a Worker when events arrive, closes it when idle, wakes it again, and keeps a retrying event alive', async () => {
    let failFirst = true;
    const sink = await startSink({
      respond: (request) => {
        if (request.id === 'webhook/retry-me' && failFirst) {
          failFirst = false;
          return { status: 503, headers: { 'retry-after': '1' } };
        }
        return { status: 200 };
      },
    });
    const ns = uniqueNamespace('lazy');
    const names = ['a', 'b', 'c'];
    const hub = await startTestHub(
      names.map((name) =>
        triggerDoc(ns, name, { source: { webhook: {} }, target: { http: { url: sink.url } } }),
      ),
      { dispatchIdleMs: 400 },
    );
    try {
      // Nothing queued: no trigger holds a Worker.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(await workers(hub.url)).toBe(0);

      await post(`${hub.url}/webhooks/${ns}/a`, '{"n":1}', {
        'content-type': 'application/json',
        'idempotency-key': 'first',
      });
      await sink.waitFor(() => sink.delivered.has('webhook/first'), 30_000, 'the first event');
      expect(await workers(hub.url)).toBe(1); // only the trigger with work woke
      await waitFor(async () => (await workers(hub.url)) === 0, 30_000, 'the idle Worker to close', {
        intervalMs: 50,
      });

      // Woken again by the next event, on another trigger too.
      await post(`${hub.url}/webhooks/${ns}/a`, '{"n":2}', {
        'content-type': 'application/json',
        'idempotency-key': 'second',
      });
      await post(`${hub.url}/webhooks/${ns}/b`, '{"n":3}', {
        'content-type': 'application/json',
        'idempotency-key': 'third',
      });
      await sink.waitFor(
        () => sink.delivered.has('webhook/second') && sink.delivered.has('webhook/third'),
        30_000,
        'events after the Workers went idle',
      );

      // A retry waiting out its Retry-After (a delayed job) keeps its Worker: it is delivered, not stranded.
      await post(`${hub.url}/webhooks/${ns}/c`, '{"n":4}', {
        'content-type': 'application/json',
        'idempotency-key': 'retry-me',
      });
      await sink.waitFor(() => sink.delivered.has('webhook/retry-me'), 30_000, 'the retried event');
      expect(sink.counts.get('webhook/retry-me')).toBe(2);
      await waitFor(async () => (await workers(hub.url)) === 0, 30_000, 'every Worker to close', {
        intervalMs: 50,
      });
    } finally {
      await hub.close();
      await sink.close();
    }
  });
});
