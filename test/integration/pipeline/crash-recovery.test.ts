import { afterAll, describe, expect, it } from 'vitest';
import {
  freePort,
  type HubProcess,
  spawnHub,
  triggerDoc,
  uniqueNamespace,
  writeTriggerDir,
} from '../../support/hub.ts';
import { postMany } from '../../support/post.ts';
import { startSink } from '../../support/sink.ts';

describe('a hub process killed with SIGKILL', () => {
  const hubs: HubProcess[] = [];
  afterAll(() => {
    for (const hub of hubs) hub.child.kill('SIGKILL');
  });

  it('loses no event: every accepted event is delivered after a restart, duplicates only for deliveries under way', async () => {
    const concurrency = 16;
    // A slow function keeps thousands of events queued or in flight when the hub dies.
    const sink = await startSink({ respond: () => ({ status: 200, delayMs: 5 }) });
    const ns = uniqueNamespace('crash');
    const dir = writeTriggerDir([
      triggerDoc(ns, 'fn', {
        source: { webhook: {} },
        target: { http: { url: sink.url } },
        delivery: { concurrency },
      }),
    ]);
    const first = await spawnHub(dir, await freePort());
    hubs.push(first);
    const accepted = await postMany(`${first.url}/webhooks/${ns}/fn`, 5000, {
      concurrency: 32,
      headersFor: (i) => ({ 'idempotency-key': `e-${i}` }),
    });
    expect(accepted.every((r) => r.status === 202)).toBe(true);
    await sink.waitFor(() => sink.delivered.size >= 500, 60_000, 'some deliveries before the kill');
    first.child.kill('SIGKILL');
    await first.exited;
    const deliveredBeforeKill = sink.delivered.size;
    expect(deliveredBeforeKill).toBeLessThan(5000);

    const second = await spawnHub(dir, await freePort());
    hubs.push(second);
    // Jobs that were active when the hub died come back when their lock (15 s) lapses.
    await sink.waitFor(() => sink.delivered.size === 5000, 120_000, 'all 5,000 events delivered');
    const duplicated = [...sink.counts.values()].filter((n) => n > 1).length;
    expect(duplicated).toBeLessThanOrEqual(concurrency);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    await sink.close();
  });
});
