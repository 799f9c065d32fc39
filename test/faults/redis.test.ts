// Redis faults: the hub's Redis restarted mid-stream (AOF: what it acknowledged survives), and Redis
// unreachable for a while (a cut network, the server itself untouched). Meanwhile webhooks answer 503 and
// sensors stop acknowledging at their sources; once Redis is back nothing is lost.

import { afterAll, describe, expect, it } from 'vitest';
import { startTcpProxy, type TcpProxy } from '../support/proxy.ts';
import { envNumber, faultInstances } from './support/instances.ts';
import { runScenario } from './support/scenario.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const rate = envNumber('TH_FAULT_RATE', 25);

describe('Redis faults', () => {
  let proxy: TcpProxy | undefined;
  afterAll(async () => {
    await proxy?.close();
  });

  it('Redis restarted mid-stream (AOF): nothing lost', async () => {
    const { redis } = faultInstances();
    await runScenario({
      name: 'Redis restarted mid-stream (AOF on)',
      sources: ['webhook', 'cron', 'kafka', 'jetstream', 'kinesis'],
      rate,
      fault: () => redis.restart(),
    });
  });

  it('Redis unreachable: webhooks answer 503, sensors do not ack, nothing lost once it is back', async () => {
    const { redis } = faultInstances();
    const downMs = envNumber('TH_FAULT_REDIS_DOWN_MS', 30_000);
    proxy = await startTcpProxy(redis.port);
    let refusedDuringCut = 0;
    await runScenario({
      name: `Redis unreachable for ${downMs / 1000} s`,
      sources: ['webhook', 'cron', 'kafka', 'jetstream', 'kinesis'],
      rate,
      hubEnv: { REDIS_URL: proxy.url('redis') },
      async fault({ loads }) {
        const webhook = loads.find((load) => load.name === 'webhook')!;
        const before = webhook.refused.get('webhook answered 503') ?? 0;
        await proxy!.pause();
        await sleep(downMs);
        refusedDuringCut = (webhook.refused.get('webhook answered 503') ?? 0) - before;
        await proxy!.resume();
      },
    });
    // The webhook sender was told to retry (503) while Redis could not take its events.
    expect(refusedDuringCut).toBeGreaterThan(0);
  });
});
