// Graceful shutdown under load: SIGTERM while webhooks arrive at about 1,000 events/s. In-flight deliveries
// finish or go back to the queue, the process exits within its deadline (exit code 0), and after a restart
// every accepted event is delivered.

import { describe, expect, it } from 'vitest';
import { envNumber } from './support/instances.ts';
import { runScenario } from './support/scenario.ts';

// spawnHub's default; the margin allows for a loaded 2-core machine (this is a hang check, not a timing).
const deadlineMs = 5000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const marginMs = 15_000;

describe('graceful shutdown under load', () => {
  it('SIGTERM at ~1,000 events/s: exits 0 within its deadline, nothing lost', async () => {
    const rate = envNumber('TH_FAULT_SHUTDOWN_RATE', 1000);
    let exit: { code: number | null; ms: number; inFlight: number } | undefined;
    await runScenario({
      name: `SIGTERM during ${rate} ev/s (webhook), then restart`,
      sources: ['webhook'],
      rate,
      // A function that takes a little while keeps deliveries in flight when the signal comes.
      respond: () => ({ status: 200, delayMs: 50 }),
      delivery: { concurrency: 64 },
      hubEnv: { TH_SHUTDOWN_DEADLINE_MS: String(deadlineMs) },
      warmupMs: 3000,
      async fault({ hub, ledger, restartHub }) {
        const unanswered = () => ledger.sink.received.filter((request) => request.answered === undefined);
        // Signal while deliveries are under way (poll briefly for a moment that has some).
        for (let tries = 0; tries < 2000 && unanswered().length === 0; tries++) await sleep(5);
        const inFlightAtSignal = unanswered();
        const signalledAt = Date.now();
        hub.child.kill('SIGTERM');
        const code = await hub.exited;
        exit = { code, ms: Date.now() - signalledAt, inFlight: inFlightAtSignal.length };
        const finished = inFlightAtSignal.filter((request) => request.answered !== undefined).length;
        console.log(
          `shutdown: exit code ${code} after ${exit.ms} ms (deadline ${deadlineMs} ms); ${exit.inFlight} deliveries in flight at SIGTERM, ${finished} of them answered before the exit`,
        );
        await restartHub();
      },
    });
    expect(exit?.code).toBe(0);
    expect(exit!.ms).toBeLessThan(deadlineMs + marginMs);
    expect(exit!.inFlight).toBeGreaterThan(0);
  });
});
