// The function endpoint misbehaving: slow (the hub's timeout fires), flapping between 2xx and 503, answering
// 429 with Retry-After, and down altogether (connections refused). Deliveries are retried until they land;
// nothing is dead-lettered, nothing lost.

import { afterEach, describe, it } from 'vitest';
import { startTcpProxy, type TcpProxy } from '../support/proxy.ts';
import type { Reply } from '../support/sink.ts';
import { envNumber } from './support/instances.ts';
import { runScenario } from './support/scenario.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const rate = envNumber('TH_FAULT_RATE', 25) * 2;
const faultMs = envNumber('TH_FAULT_TARGET_MS', 10_000);

describe('a failing target', () => {
  let proxy: TcpProxy | undefined;
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
  });

  /** A scenario where the sink answers `during()` while the fault lasts, 200 otherwise. */
  const misbehaving = (name: string, during: () => Reply, delivery: Record<string, unknown> = {}) => {
    let faulty = false;
    return runScenario({
      name,
      sources: ['webhook'],
      rate,
      delivery,
      respond: () => (faulty ? during() : { status: 200 }),
      async fault() {
        faulty = true;
        await sleep(faultMs);
        faulty = false;
      },
    });
  };

  it('slow: a third of the answers come after the timeout', async () => {
    await misbehaving(
      `target slow for ${faultMs / 1000} s (1 in 3 answers after the 500 ms timeout)`,
      () => (Math.random() < 1 / 3 ? { status: 200, delayMs: 1500 } : { status: 200 }),
      { timeoutMs: 500 },
    );
  });

  it('flapping: up and down (503) every second', async () => {
    await misbehaving(`target flapping 200/503 every second for ${faultMs / 1000} s`, () =>
      Math.floor(Date.now() / 1000) % 2 === 0 ? { status: 200 } : { status: 503 },
    );
  });

  it('429 with Retry-After', async () => {
    await misbehaving(`target answering 429 Retry-After: 1 for ${faultMs / 1000} s`, () => ({
      status: 429,
      headers: { 'retry-after': '1' },
    }));
  });

  it('down: connections refused, then back', async () => {
    const downMs = envNumber('TH_FAULT_TARGET_DOWN_MS', 60_000);
    await runScenario({
      name: `target down (connection refused) for ${downMs / 1000} s`,
      sources: ['webhook'],
      rate,
      targetUrl: async (sinkUrl) => {
        const url = new URL(sinkUrl);
        proxy = await startTcpProxy(Number(url.port));
        url.port = String(proxy.port);
        return url.toString();
      },
      async fault() {
        await proxy!.pause();
        await sleep(downMs);
        await proxy!.resume();
      },
    });
  });
});
