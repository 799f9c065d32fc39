// Lazy dispatch: a hub with many quiet triggers should not hold a BullMQ Worker (a blocking Redis connection,
// timers, buffers: ~170 KB each) per trigger. Idle triggers register here instead; ONE connection blocks on all
// their queues' marker keys at once (BZPOPMIN over many keys) and wakes a trigger's dispatcher the moment
// BullMQ marks its queue (a job added, or a delayed job scheduled). A sweep also wakes queues that hold work
// without a fresh marker (jobs left active by a crashed hub, whose stalled check needs a running Worker).
//
// Multi-key blocking needs every key on one node: on a Redis Cluster the hub keeps one Worker per trigger.

import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { keyPrefix } from '../queue/keys.ts';
import { withTimeout } from '../retry/timeout.ts';

/** How long one blocking call waits before it picks up newly idle queues. */
const blockSeconds = 1;
/** How often idle queues are checked for work that left no marker (e.g. stalled jobs of a dead hub). */
const sweepIntervalMs = 15_000;

interface IdleQueue {
  queue: string;
  wake: () => void;
}

export class DispatchWaker {
  private readonly idle = new Map<string, IdleQueue>();
  private readonly connection: Redis;
  /** For non-blocking calls, which must not queue behind the blocking one. */
  private readonly probe: Redis;
  private readonly log: Logger;
  private closed = false;
  private readonly loop: Promise<void>;
  private readonly sweepTimer: NodeJS.Timeout;
  private changed: (() => void) | undefined;

  /** `connection` is dedicated to the waker: it spends its life in blocking calls. */
  constructor(connection: Redis, log: Logger) {
    this.connection = connection;
    this.connection.on('error', () => {}); // Redis away: the loop logs and retries
    this.probe = connection.duplicate();
    this.probe.on('error', () => {});
    this.log = log;
    this.loop = this.run();
    this.sweepTimer = setInterval(() => void this.sweep(), sweepIntervalMs);
    this.sweepTimer.unref();
  }

  /**
   * Watches `queue` (a BullMQ queue name under the hub's prefix) until it has work, then calls `wake` once and
   * forgets it: the caller registers again when its dispatcher goes idle. Returns the function that unregisters.
   */
  watch(queue: string, wake: () => void): () => void {
    const key = markerKey(queue);
    this.idle.set(key, { queue, wake });
    this.changed?.();
    // Work may already be waiting (added while the dispatcher was closing, or before the hub started).
    this.hasWork([queue]).then(
      ([busy]) => {
        if (busy) this.fire(key);
      },
      () => {}, // Redis away: the sweep checks again
    );
    return () => {
      this.idle.delete(key);
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweepTimer);
    this.changed?.();
    this.connection.disconnect();
    this.probe.disconnect();
    // A blocking call on a connection that never came up is not always rejected by disconnect(): do not hang.
    await withTimeout(this.loop, 1000, 'waker loop').catch(() => {});
  }

  private fire(key: string): void {
    const entry = this.idle.get(key);
    if (!entry) return;
    this.idle.delete(key);
    entry.wake();
  }

  private async run(): Promise<void> {
    while (!this.closed) {
      const keys = [...this.idle.keys()];
      if (keys.length === 0) {
        await new Promise<void>((resolve) => {
          this.changed = resolve;
        });
        this.changed = undefined;
        continue;
      }
      try {
        const popped = await this.connection.bzpopmin(...keys, blockSeconds);
        if (!popped) continue;
        const [key, member, score] = popped;
        // Put the marker back: the Worker reads a delayed job's due time from it.
        await this.connection.zadd(key, score, member);
        this.fire(key);
      } catch (error) {
        if (this.closed) return;
        this.log.warn({ err: error }, 'dispatch waker: Redis call failed; retrying in 1 s');
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }

  private async sweep(): Promise<void> {
    const entries = [...this.idle.entries()];
    if (entries.length === 0 || this.closed) return;
    try {
      const busy = await this.hasWork(entries.map(([, entry]) => entry.queue));
      entries.forEach(([key], i) => {
        if (busy[i]) this.fire(key);
      });
    } catch {
      // Redis away: the next sweep tries again
    }
  }

  /** Per queue: does it hold jobs waiting, delayed, prioritized or active? One pipelined round trip. */
  private async hasWork(queues: string[]): Promise<boolean[]> {
    const pipeline = this.probe.pipeline();
    for (const queue of queues) {
      const base = `${keyPrefix}:${queue}`;
      pipeline
        .llen(`${base}:wait`)
        .zcard(`${base}:delayed`)
        .zcard(`${base}:prioritized`)
        .llen(`${base}:active`);
    }
    const replies = (await pipeline.exec()) ?? [];
    return queues.map((_, i) =>
      replies.slice(i * 4, i * 4 + 4).some(([error, count]) => !error && Number(count) > 0),
    );
  }
}

export function markerKey(queue: string): string {
  return `${keyPrefix}:${queue}:marker`;
}
