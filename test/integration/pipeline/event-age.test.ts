import { describe, expect, it } from 'vitest';
import type { DeadLetterEntry } from '../../../src/queue/dead-letter.ts';
import { startTestHub, triggerDoc, uniqueNamespace } from '../../support/hub.ts';
import { post, postMany } from '../../support/post.ts';
import { startSink } from '../../support/sink.ts';

/** The dashboard's view of one trigger (its data route, as the page polls it). */
async function dashboardRow(hubUrl: string, trigger: string) {
  const { triggers } = (await (await fetch(`${hubUrl}/dashboard/api/triggers`)).json()) as {
    triggers: Array<{
      key: string;
      oldestEventAgeSeconds?: number;
      stats: { eventAge?: { p50Seconds: number; p99Seconds: number; deliveries: number } };
    }>;
  };
  return triggers.find((t) => t.key === trigger);
}

async function gauge(hubUrl: string, name: string, trigger: string): Promise<number | undefined> {
  const text = await (await fetch(`${hubUrl}/metrics`)).text();
  const match = new RegExp(`^${name}\\{trigger="${trigger}"\\} ([0-9.e+-]+)$`, 'm').exec(text);
  return match ? Number(match[1]) : undefined;
}

describe('event age', () => {
  it('the oldest-undelivered-event age rises while a slow function falls behind and returns to 0 when drained', async () => {
    const sink = await startSink({ respond: () => ({ status: 200, delayMs: 200 }) });
    const ns = uniqueNamespace('age');
    const hub = await startTestHub([
      triggerDoc(ns, 'slow', {
        source: { webhook: {} },
        target: { http: { url: sink.url } },
        delivery: { concurrency: 1 },
      }),
    ]);
    try {
      await postMany(`${hub.url}/webhooks/${ns}/slow`, 15, {
        headersFor: (i) => ({ 'idempotency-key': `a-${i}` }),
      });
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const during = await gauge(hub.url, 'trigger_hub_oldest_undelivered_event_age_seconds', `${ns}/slow`);
      expect(during).toBeGreaterThan(1);
      expect((await dashboardRow(hub.url, `${ns}/slow`))?.oldestEventAgeSeconds).toBeGreaterThan(1);
      await sink.waitFor(() => sink.delivered.size === 15, 30_000, 'the backlog to drain');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await gauge(hub.url, 'trigger_hub_oldest_undelivered_event_age_seconds', `${ns}/slow`)).toBe(0);
      // The dashboard: drained, and the ages at delivery of the 15 (the last waited behind 14 slow answers).
      const row = await dashboardRow(hub.url, `${ns}/slow`);
      expect(row?.oldestEventAgeSeconds).toBe(0);
      expect(row?.stats.eventAge?.deliveries).toBe(15);
      expect(row?.stats.eventAge?.p99Seconds).toBeGreaterThan(2);
      expect(row?.stats.eventAge?.p50Seconds).toBeLessThan(row!.stats.eventAge!.p99Seconds);
      const metrics = await (await fetch(`${hub.url}/metrics`)).text();
      expect(metrics).toMatch(
        new RegExp(`trigger_hub_event_age_at_delivery_seconds_count\\{trigger="${ns}/slow"\\} 15`),
      );
    } finally {
      await hub.close();
      await sink.close();
    }
  });

  it('dead-letters an event older than maxAgeMs with the reason instead of delivering it late', async () => {
    const sink = await startSink();
    const ns = uniqueNamespace('maxage');
    const hub = await startTestHub([
      triggerDoc(ns, 'fresh', {
        source: { webhook: {} },
        target: { http: { url: sink.url } },
        delivery: { maxAgeMs: 60_000 },
      }),
    ]);
    try {
      const stale = {
        specversion: '1.0',
        id: 'stale-1',
        source: '/s',
        type: 't',
        time: new Date(Date.now() - 3_600_000).toISOString(),
      };
      const fresh = { ...stale, id: 'fresh-1', time: new Date().toISOString() };
      const headers = { 'content-type': 'application/cloudevents+json' };
      expect((await post(`${hub.url}/webhooks/${ns}/fresh`, JSON.stringify(stale), headers)).status).toBe(
        202,
      );
      expect((await post(`${hub.url}/webhooks/${ns}/fresh`, JSON.stringify(fresh), headers)).status).toBe(
        202,
      );
      await sink.waitFor(() => sink.delivered.has('fresh-1'), 20_000, 'the fresh event');
      let entries: DeadLetterEntry[] = [];
      for (let i = 0; i < 100 && entries.length === 0; i++) {
        entries = (
          (await (await fetch(`${hub.url}/api/dlq/${ns}/fresh`)).json()) as { entries: DeadLetterEntry[] }
        ).entries;
        if (entries.length === 0) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(entries.map((e) => e.event.id)).toEqual(['stale-1']);
      expect(entries[0]!.lastAttempt?.error).toMatch(
        /^TH_ERR_EVENT_EXPIRED: the event is 36\d\d s old; maxAgeMs is 60000/,
      );
      expect(sink.counts.has('stale-1')).toBe(false);
    } finally {
      await hub.close();
      await sink.close();
    }
  });
});
