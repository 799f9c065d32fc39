// Per-trigger numbers for the dashboard, fed by the instrumentation events (the same ones the metrics
// subscribe to): per-second buckets over the last minute for rates, and the most recent errors. They are
// this process's view: with several hub replicas each shows what it delivered itself.

import type { Instrumentation, InstrumentationEvents } from '../../instrumentation.ts';

const windowSeconds = 60;
const keptErrors = 20;
/** Event ages of the most recent deliveries kept per trigger, for their p50/p99. */
const keptAges = 1000;

export interface RecentError {
  at: string;
  kind: 'delivery' | 'dead-letter' | 'filter' | 'enqueue';
  message: string;
}

export interface TriggerStats {
  /** Deliveries per second over the last 10 s. */
  qps: number;
  /** Failed attempts / all attempts over the last minute (0 when there were none). */
  failureRate: number;
  lastMinute: { received: number; enqueued: number; delivered: number; failed: number; deadLettered: number };
  totals: {
    received: number;
    enqueued: number;
    delivered: number;
    failed: number;
    deadLettered: number;
    replayed: number;
  };
  lastEventAt?: string;
  lastDeliveryAt?: string;
  /** Source time → the function's answer, over the last (up to) 1,000 deliveries; absent before the first. */
  eventAge?: { p50Seconds: number; p99Seconds: number; deliveries: number };
  recentErrors: RecentError[];
}

type Counter = 'received' | 'enqueued' | 'delivered' | 'failed' | 'deadLettered';
const counters: Counter[] = ['received', 'enqueued', 'delivered', 'failed', 'deadLettered'];

class TriggerWindow {
  /** buckets[second % windowSeconds] with the second it belongs to. */
  private readonly buckets = new Map<Counter, Array<{ second: number; count: number }>>();
  readonly totals = { received: 0, enqueued: 0, delivered: 0, failed: 0, deadLettered: 0, replayed: 0 };
  readonly errors: RecentError[] = [];
  /** A ring of the last `keptAges` event ages (ms). */
  private readonly ages: number[] = [];
  private nextAge = 0;
  lastEventAt?: string;
  lastDeliveryAt?: string;

  constructor() {
    for (const counter of counters)
      this.buckets.set(
        counter,
        Array.from({ length: windowSeconds }, () => ({ second: 0, count: 0 })),
      );
  }

  add(counter: Counter, count: number, now = Date.now()): void {
    const second = Math.floor(now / 1000);
    const bucket = this.buckets.get(counter)![second % windowSeconds]!;
    if (bucket.second !== second) {
      bucket.second = second;
      bucket.count = 0;
    }
    bucket.count += count;
    this.totals[counter] += count;
  }

  sum(counter: Counter, seconds: number, now = Date.now()): number {
    const current = Math.floor(now / 1000);
    return this.buckets
      .get(counter)!
      .filter((bucket) => bucket.second > current - seconds && bucket.second <= current)
      .reduce((total, bucket) => total + bucket.count, 0);
  }

  age(ms: number): void {
    this.ages[this.nextAge] = ms;
    this.nextAge = (this.nextAge + 1) % keptAges;
  }

  ageQuantiles(): TriggerStats['eventAge'] {
    if (this.ages.length === 0) return undefined;
    const sorted = [...this.ages].sort((a, b) => a - b);
    const at = (q: number) =>
      Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!) / 1000;
    return { p50Seconds: at(0.5), p99Seconds: at(0.99), deliveries: sorted.length };
  }

  error(kind: RecentError['kind'], message: string): void {
    this.errors.unshift({ at: new Date().toISOString(), kind, message });
    this.errors.length = Math.min(this.errors.length, keptErrors);
  }
}

export class LiveStats {
  private readonly windows = new Map<string, TriggerWindow>();
  private readonly detach: Array<() => void> = [];

  constructor(instrumentation: Instrumentation) {
    const on = <K extends keyof InstrumentationEvents>(
      event: K,
      listener: (...args: InstrumentationEvents[K]) => void,
    ) => {
      // The emitter's generic listener type does not narrow per event name; the tuple types above do.
      const untyped = listener as (...args: unknown[]) => void;
      (instrumentation as unknown as NodeJS.EventEmitter).on(event, untyped);
      this.detach.push(() => (instrumentation as unknown as NodeJS.EventEmitter).off(event, untyped));
    };
    on('events.received', (trigger, count) => {
      const window = this.window(trigger);
      window.add('received', count);
      window.lastEventAt = new Date().toISOString();
    });
    on('events.enqueued', (trigger, count) => this.window(trigger).add('enqueued', count));
    on('events.enqueue-failed', (trigger, count, error) =>
      this.window(trigger).error('enqueue', `${count} event(s) not enqueued: ${describe(error)}`),
    );
    on('events.filter-error', (trigger, error) => this.window(trigger).error('filter', error));
    on('delivery.succeeded', (trigger, _status, _durationMs, ageMs) => {
      const window = this.window(trigger);
      window.add('delivered', 1);
      window.age(ageMs);
      window.lastDeliveryAt = new Date().toISOString();
    });
    on('delivery.failed', (trigger, status, durationMs, willRetry) => {
      const window = this.window(trigger);
      window.add('failed', 1);
      const answer = status === undefined ? 'no answer (network error or timeout)' : `HTTP ${status}`;
      window.error(
        'delivery',
        `${answer} after ${Math.round(durationMs)} ms; ${willRetry ? 'will retry' : 'final'}`,
      );
    });
    on('delivery.dead-lettered', (trigger, reason) => {
      const window = this.window(trigger);
      window.add('deadLettered', 1);
      window.error(
        'dead-letter',
        reason === 'attempts' ? 'dead-lettered: out of attempts' : `dead-lettered: ${reason}`,
      );
    });
    on('dlq.replayed', (trigger, count) => {
      this.window(trigger).totals.replayed += count;
    });
  }

  private window(trigger: string): TriggerWindow {
    let window = this.windows.get(trigger);
    if (!window) {
      window = new TriggerWindow();
      this.windows.set(trigger, window);
    }
    return window;
  }

  of(trigger: string): TriggerStats {
    const window = this.window(trigger);
    const lastMinute = Object.fromEntries(
      counters.map((counter) => [counter, window.sum(counter, windowSeconds)]),
    ) as TriggerStats['lastMinute'];
    const attempts = lastMinute.delivered + lastMinute.failed;
    const eventAge = window.ageQuantiles();
    return {
      qps: Math.round((window.sum('delivered', 10) / 10) * 100) / 100,
      failureRate: attempts === 0 ? 0 : Math.round((lastMinute.failed / attempts) * 1000) / 1000,
      lastMinute,
      totals: { ...window.totals },
      ...(window.lastEventAt ? { lastEventAt: window.lastEventAt } : {}),
      ...(window.lastDeliveryAt ? { lastDeliveryAt: window.lastDeliveryAt } : {}),
      ...(eventAge ? { eventAge } : {}),
      recentErrors: [...window.errors],
    };
  }

  close(): void {
    for (const detach of this.detach.splice(0)) detach();
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
