// The gauges autoscalers read, on a real hub and Redis: while a slow function holds its requests, the
// in-flight gauge counts the open requests and the backlog gauge the events still waiting; both return to 0
// when the queue drains. Both carry trigger_namespace and trigger_name, which HPA selectors match on.

import { describe, expect, it } from 'vitest';
import { startTestHub, triggerDoc, uniqueNamespace } from '../../support/hub.ts';
import { postMany } from '../../support/post.ts';
import { startSink } from '../../support/sink.ts';
import { waitFor } from '../../support/wait.ts';

describe('autoscaling gauges', () => {
  it('count the requests open to a slow function and the events waiting behind them, then drop to 0', async () => {
    const sink = await startSink({ respond: () => ({ status: 200, delayMs: 2_000 }) });
    const ns = uniqueNamespace('gauges');
    const hub = await startTestHub([
      triggerDoc(ns, 'slow', {
        source: { webhook: {} },
        target: { http: { url: sink.url } },
        delivery: { concurrency: 2 },
      }),
    ]);
    const labels = `trigger="${ns}/slow",trigger_namespace="${ns}",trigger_name="slow"`;
    const read = async () => {
      const text = await (await fetch(`${hub.url}/metrics`)).text();
      const value = (name: string) =>
        Number(new RegExp(`^${name}\\{${labels}\\} (\\d+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
      return {
        inFlight: value('trigger_hub_deliveries_in_flight'),
        backlog: value('trigger_hub_queue_backlog'),
      };
    };
    try {
      await postMany(`${hub.url}/webhooks/${ns}/slow`, 4, {
        headersFor: (i) => ({ 'idempotency-key': `g-${i}` }),
      });
      let seen = { inFlight: Number.NaN, backlog: Number.NaN };
      // Two requests held by the function, two events waiting (polled: no timing assumed).
      await waitFor(
        async () => {
          seen = await read();
          return seen.inFlight === 2 && seen.backlog === 2;
        },
        30_000,
        'two in flight and two waiting',
      ).catch((error: Error) => {
        throw new Error(`${error.message}; last seen ${JSON.stringify(seen)}`);
      });
      expect(seen).toEqual({ inFlight: 2, backlog: 2 });
      await sink.waitFor(() => sink.delivered.size === 4, 30_000, 'the four deliveries');
      await waitFor(
        async () => {
          seen = await read();
          return seen.inFlight === 0 && seen.backlog === 0;
        },
        30_000,
        'both gauges back to 0',
      );
      expect(seen).toEqual({ inFlight: 0, backlog: 0 });
    } finally {
      await hub.close();
      await sink.close();
    }
  });
});
