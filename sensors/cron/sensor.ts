// Cron: every hub process runs the same timer and emits the tick with the id `cron/<trigger>/<epoch ms>`.
// The id is the BullMQ job id, so whichever replica writes first wins and the others' writes are no-ops:
// once per tick with no leader election and no shared scheduler state (BullMQ's job schedulers misbehave
// when several processes upsert them at once: bullmq#3085, #3262).

import { eventId } from '../../src/envelope/ids.ts';
import type { Sensor, SensorContext, SensorHealth } from '../../src/sensor/sensor.ts';
import { type CronSpec, nextTick } from './spec.ts';

/** `cron/<trigger>/<epoch ms>`: every replica writes the same tick under the same id. */
export const cronEventId = (trigger: string, scheduledAt: Date) =>
  eventId('cron', trigger, scheduledAt.getTime());

/** setTimeout's ceiling (2^31-1 ms): longer waits are taken in steps. */
const maxTimerMs = 2_147_483_647;

export function createCronSensor(spec: CronSpec, context: SensorContext): Sensor {
  const { trigger, emitDurably, log, signal } = context;
  const source = `/triggerhub/cron/${trigger.key}`;
  const pending = new Set<Promise<void>>();
  let timer: NodeJS.Timeout | undefined;
  let health: SensorHealth = { connected: true };

  function schedule(after: Date): void {
    if (signal.aborted) return;
    const tick = nextTick(spec, after);
    const wait = Math.min(maxTimerMs, tick.getTime() - Date.now());
    timer = setTimeout(
      () => {
        if (Date.now() < tick.getTime()) return schedule(after); // woke up early after a long step
        track(fire(tick));
        schedule(tick);
      },
      Math.max(0, wait),
    );
  }

  function track(work: Promise<void>): void {
    pending.add(work);
    work.finally(() => pending.delete(work));
  }

  // A tick whose emit fails (Redis down) is retried until it lands or the sensor stops: its id is fixed, so
  // a late write by this replica cannot duplicate a tick another replica already wrote.
  async function fire(tick: Date): Promise<void> {
    const scheduledTime = tick.toISOString();
    const event = {
      id: cronEventId(trigger.key, tick),
      source,
      type: 'io.triggerhub.cron.tick',
      time: scheduledTime,
      datacontenttype: 'application/json',
      data: spec.data ?? { scheduledTime },
    };
    try {
      const stored = await emitDurably([event], {
        logFields: { tick: scheduledTime },
        onRetry: (error) => {
          health = {
            ...health,
            connected: false,
            message: `tick ${scheduledTime} not yet written: ${error}`,
          };
        },
      });
      if (stored) health = { connected: true, lastEventAt: new Date().toISOString() };
    } catch (error) {
      // Not retriable: this tick is not written (the next one is still scheduled).
      health = { ...health, connected: false, message: `tick ${scheduledTime} not written: ${error}` };
      log.error({ err: error, tick: scheduledTime }, 'cron tick could not be enqueued');
    }
  }

  return {
    async start() {
      schedule(new Date());
    },
    async stop() {
      clearTimeout(timer);
      await Promise.allSettled([...pending]);
    },
    health: () => health,
  };
}
