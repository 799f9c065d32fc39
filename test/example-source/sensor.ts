// The example source: emits events 1..count. Each event's id is its position (`counter/<trigger>/<n>`), so
// a re-emitted number is a no-op in the queue, and the next number is taken only once `emitDurably` resolved
// (the event is in Redis; the kit retries while Redis is away): the "acknowledge after durable" rule, with the
// position as the acknowledgement.

import { eventId } from '../../src/envelope/ids.ts';
import type { Sensor, SensorContext, SensorHealth } from '../../src/sensor/sensor.ts';
import type { CounterSpec } from './spec.ts';

export function createCounterSensor(spec: CounterSpec, context: SensorContext): Sensor {
  const { trigger, emitDurably, signal } = context;
  let next = 1;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let health: SensorHealth = { connected: true };

  async function tick(): Promise<void> {
    if (signal.aborted || next > spec.count) return;
    const stored = await emitDurably(
      [
        {
          id: eventId('counter', trigger.key, next),
          source: `/triggerhub/counter/${trigger.key}`,
          type: 'io.triggerhub.counter',
          datacontenttype: 'application/json',
          data: { n: next },
        },
      ],
      {
        onRetry: (error) => {
          health = { connected: false, message: `event ${next} not yet stored: ${error}` };
        },
      },
    );
    if (stored === undefined) return; // stopped before it was stored: the next start emits this number again
    next++;
    health = { connected: true, lastEventAt: new Date().toISOString() };
    if (!signal.aborted) schedule(spec.intervalMs);
  }

  function schedule(delayMs: number): void {
    timer = setTimeout(() => {
      running = tick();
    }, delayMs);
  }

  return {
    async start() {
      schedule(0);
    },
    // The hub aborts `signal` first; an emit in flight is waited for, so nothing is left half done.
    async stop() {
      clearTimeout(timer);
      await running;
    },
    health: () => health,
  };
}
