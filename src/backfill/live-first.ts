// The live stream first: a backfill takes only the capacity the live stream leaves it. Every 250 ms two
// signals are read:
//   - the trigger's live backlog (one LLEN of its shared queue, so it holds across hub processes): live events
//     wait for a worker;
//   - the hub process's event-loop delay (p99 of the window): backfill work (reading, converting, enqueueing,
//     delivering) takes the CPU every live delivery of every trigger of this hub needs.
// Under pressure the backfill's delivery concurrency halves; when calm it grows by one up to its ceiling
// (additive increase, multiplicative decrease, as TCP shares a link). Only a live backlog pauses it outright: a
// busy event loop alone leaves it one delivery, and the reader waits at most `maxCalmWaitMs` for a calm window,
// so a backfill on a hub that is always busy still ends.

import { monitorEventLoopDelay } from 'node:perf_hooks';
import { sleep } from '../retry/backoff.ts';

const sampleMs = 250;
/** An event-loop delay p99 above this (ms) in a window: the live deliveries of this hub are being slowed. */
export const delayHighMs = 30;
const maxCalmWaitMs = 2000;

export interface Pressure {
  delayP99Ms: number;
  liveBacklog: number;
}

export interface Limits {
  /** The most deliveries the backfill may have in flight (the trigger's delivery concurrency). */
  ceiling: number;
  /** A live backlog above this is more than the live workers take at once. */
  backlogHigh: number;
}

/** The backfill's next delivery concurrency; 0 = paused. */
export function nextConcurrency(current: number, pressure: Pressure, limits: Limits): number {
  if (pressure.liveBacklog > limits.backlogHigh) return Math.floor(current / 2);
  if (pressure.delayP99Ms > delayHighMs) return Math.max(1, Math.floor(current / 2));
  return Math.min(limits.ceiling, current + 1);
}

export function isCalm(pressure: Pressure, limits: Limits): boolean {
  return pressure.liveBacklog <= limits.backlogHigh && pressure.delayP99Ms <= delayHighMs;
}

export interface LiveFirstOptions extends Limits {
  liveBacklog: () => Promise<number>;
  /** Called with each new concurrency; 0 = pause the backfill's deliveries. */
  apply: (concurrency: number) => void | Promise<void>;
  signal: AbortSignal;
}

export class LiveFirst {
  private readonly options: LiveFirstOptions;
  private readonly delay = monitorEventLoopDelay({ resolution: 10 });
  private readonly timer: NodeJS.Timeout;
  private sampling = false;
  /** Starts at one, with no slice granted: a backfill earns its share while the live stream stays calm. */
  private current = 1;
  /** Slices the reader may enqueue until the next window: as many as deliveries in flight, none if pressed. */
  private slices = 0;

  constructor(options: LiveFirstOptions) {
    this.options = options;
    this.delay.enable();
    // A failed sample (Redis away) changes nothing; the next one tries again.
    this.timer = setInterval(() => void this.sample().catch(() => {}), sampleMs);
    this.timer.unref();
  }

  /**
   * Resolves when a calm window granted the reader a slice (or after `maxCalmWaitMs`, or on abort): reading
   * keeps pace with the deliveries the live stream allows.
   */
  async waitForCalm(): Promise<void> {
    const deadline = Date.now() + maxCalmWaitMs;
    while (this.slices === 0 && Date.now() < deadline && !this.options.signal.aborted)
      await sleep(sampleMs / 5, this.options.signal);
    this.slices = Math.max(0, this.slices - 1);
  }

  stop(): void {
    clearInterval(this.timer);
    this.delay.disable();
  }

  private async sample(): Promise<void> {
    if (this.sampling || this.options.signal.aborted) return;
    this.sampling = true;
    try {
      const pressure = {
        delayP99Ms: this.delay.percentile(99) / 1e6,
        liveBacklog: await this.options.liveBacklog().catch(() => 0),
      };
      this.delay.reset();
      const next = nextConcurrency(this.current, pressure, this.options);
      this.slices = isCalm(pressure, this.options) ? Math.max(1, next) : 0;
      if (next !== this.current) {
        this.current = next;
        await this.options.apply(next);
      }
    } finally {
      this.sampling = false;
    }
  }
}
