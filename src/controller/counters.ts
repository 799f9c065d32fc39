// Per-trigger counters for Trigger status, summed across hub replicas: each replica counts what its own
// instrumentation reports and adds it to a Redis hash in the trigger's slot once a second; the replica that
// writes status reads the totals. (Prometheus metrics stay per process; these are for `kubectl get`.)

import type { Instrumentation } from '../instrumentation.ts';
import { triggerStateKey } from '../queue/keys.ts';
import type { RedisClient } from '../queue/redis.ts';
import type { TriggerCounters } from './status.ts';

const fields = ['received', 'enqueued', 'delivered', 'deadLettered'] as const;
type Field = (typeof fields)[number];

export class SharedCounters {
  private readonly redis: RedisClient;
  private readonly pending = new Map<
    string,
    { counts: Partial<Record<Field, number>>; lastEvent?: string }
  >();
  private readonly timer: NodeJS.Timeout;
  private readonly unsubscribe: () => void;
  private flushing: Promise<void> = Promise.resolve();

  constructor(instrumentation: Instrumentation, redis: RedisClient, flushEveryMs = 1000) {
    this.redis = redis;
    const add = (trigger: string, field: Field, count: number) => {
      const entry = this.pending.get(trigger) ?? { counts: {} };
      entry.counts[field] = (entry.counts[field] ?? 0) + count;
      if (field === 'enqueued' && count > 0) entry.lastEvent = new Date().toISOString();
      this.pending.set(trigger, entry);
    };
    const received = (trigger: string, count: number) => add(trigger, 'received', count);
    const enqueued = (trigger: string, count: number) => add(trigger, 'enqueued', count);
    const delivered = (trigger: string) => add(trigger, 'delivered', 1);
    const deadLettered = (trigger: string) => add(trigger, 'deadLettered', 1);
    instrumentation.on('events.received', received);
    instrumentation.on('events.enqueued', enqueued);
    instrumentation.on('delivery.succeeded', delivered);
    instrumentation.on('delivery.dead-lettered', deadLettered);
    this.unsubscribe = () => {
      instrumentation.off('events.received', received);
      instrumentation.off('events.enqueued', enqueued);
      instrumentation.off('delivery.succeeded', delivered);
      instrumentation.off('delivery.dead-lettered', deadLettered);
    };
    this.timer = setInterval(() => void this.flush(), flushEveryMs);
    this.timer.unref();
  }

  private key(trigger: string): string {
    return triggerStateKey({ key: trigger }, 'counters');
  }

  /** Adds what was counted since the last flush; a failed flush keeps the counts for the next one. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      const batch = [...this.pending.entries()];
      this.pending.clear();
      for (const [trigger, entry] of batch) {
        try {
          const multi = this.redis.multi();
          for (const [field, count] of Object.entries(entry.counts))
            if (count) multi.hincrby(this.key(trigger), field, count);
          if (entry.lastEvent) multi.hset(this.key(trigger), 'lastEventTime', entry.lastEvent);
          await multi.exec();
        } catch {
          const again = this.pending.get(trigger) ?? { counts: {} };
          for (const field of fields)
            again.counts[field] = (again.counts[field] ?? 0) + (entry.counts[field] ?? 0);
          again.lastEvent ??= entry.lastEvent;
          this.pending.set(trigger, again);
        }
      }
    });
    return this.flushing;
  }

  async read(trigger: string): Promise<{ counters: TriggerCounters; lastEventTime?: string }> {
    const raw = await this.redis.hgetall(this.key(trigger));
    const counters: TriggerCounters = {};
    for (const field of fields) counters[field] = Number(raw[field] ?? 0);
    return { counters, ...(raw.lastEventTime ? { lastEventTime: raw.lastEventTime } : {}) };
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.unsubscribe();
    await this.flush();
  }
}
