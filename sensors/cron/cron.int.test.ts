import { afterAll, describe, expect, it } from 'vitest';
import {
  freePort,
  type HubProcess,
  spawnHub,
  triggerDoc,
  uniqueNamespace,
  writeTriggerDir,
} from '../../test/support/hub.ts';
import { startSink } from '../../test/support/sink.ts';

describe('cron with several hub processes', () => {
  const hubs: HubProcess[] = [];
  afterAll(() => {
    for (const hub of hubs) hub.child.kill('SIGKILL');
  });

  it('delivers each tick of a */1 seconds schedule exactly once with three processes on one Redis', async () => {
    const sink = await startSink();
    const ns = uniqueNamespace('cron');
    const dir = writeTriggerDir([
      triggerDoc(ns, 'tick', {
        source: { cron: { schedule: '*/1 * * * * *' } },
        target: { http: { url: sink.url } },
      }),
    ]);
    for (let i = 0; i < 3; i++) hubs.push(await spawnHub(dir, await freePort()));
    await new Promise((resolve) => setTimeout(resolve, 30_000));
    for (const hub of hubs) hub.child.kill('SIGTERM');
    await Promise.all(hubs.map((hub) => hub.exited));
    await sink.close();

    const ticks = [...sink.counts.keys()].map((id) => Number(id.split('/').pop())).sort((a, b) => a - b);
    expect(ticks.length).toBeGreaterThanOrEqual(25);
    expect([...sink.counts.values()].every((n) => n === 1)).toBe(true);
    // No tick skipped between the first and the last.
    for (let i = 1; i < ticks.length; i++) expect(ticks[i]! - ticks[i - 1]!).toBe(1000);
    // The tick time is the scheduled second, and each delivery names it.
    const sample = sink.received[0]!;
    expect(Number(sample.id!.split('/').pop()) % 1000).toBe(0);
    expect(sample.headers['ce-type']).toBe('io.triggerhub.cron.tick');
  });
});
