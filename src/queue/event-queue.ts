// The producer side of a trigger's queue. Emits that arrive in the same turn of the event loop (concurrent
// webhook requests, a fetched Kafka batch) are written in ONE addBulk round trip; each caller's promise
// settles when that write does, so "resolved" still means "durable in Redis".

import type { JobsOptions, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { toJobId } from '../envelope/ids.ts';
import { HubError } from '../errors.ts';
import type { TriggerRef } from '../interfaces/trigger-ref.ts';
import { withTimeout } from '../retry/timeout.ts';
import type { DeliverySpec } from '../trigger/schema.ts';
import type { EventJobData } from './job.ts';
import { queueName } from './keys.ts';
import { openProducerQueue } from './producer-queue.ts';
import type { RedisClient } from './redis.ts';

/** Completed jobs are kept this long so a re-sent source position within the window is still recognized. */
export const dedupeWindow = { age: 3600, count: 20_000 };
const maxBatch = 1000;
/**
 * BullMQ waits for a connection that is not up yet instead of failing; past this the emit fails (webhooks
 * answer 503, sources do not ack). A write that lands later is harmless: ids are deterministic.
 */
const enqueueTimeoutMs = 5000;

interface PendingBatch {
  jobs: Array<{ name: string; data: EventJobData; opts: JobsOptions }>;
  waiters: Array<{ resolve: () => void; reject: (error: unknown) => void }>;
}

export function jobOptions(delivery: DeliverySpec): JobsOptions {
  return {
    attempts: delivery.retries + 1,
    backoff: { type: 'hub' },
    removeOnComplete: dedupeWindow,
    // The failed set is the dead-letter queue: kept for retainDays, then trimmed by BullMQ.
    removeOnFail: { age: delivery.deadLetter.retainDays * 86_400 },
  };
}

/**
 * A single Redis connection without its offline queue refuses every command until it is ready, except that
 * BullMQ holds the first ones of a queue it has not opened yet: say so at once instead of waiting out the
 * timeout. A Cluster client keeps its offline queue (src/queue/redis.ts), so it is left to the timeout.
 */
function notConnected(connection: RedisClient): string | undefined {
  return connection instanceof Redis &&
    !connection.options.enableOfflineQueue &&
    connection.status !== 'ready'
    ? `Redis is not connected (${connection.status})`
    : undefined;
}

export class EventQueue {
  readonly queue: Queue<EventJobData>;
  private pending: PendingBatch | undefined;
  private readonly options: JobsOptions;
  private readonly connection: RedisClient;

  constructor(trigger: TriggerRef, connection: RedisClient, delivery: DeliverySpec) {
    this.connection = connection;
    this.options = jobOptions(delivery);
    this.queue = openProducerQueue<EventJobData>(queueName(trigger), connection, this.options);
  }

  enqueue(items: EventJobData[]): Promise<void> {
    if (items.length === 0) return Promise.resolve();
    if (!this.pending) {
      this.pending = { jobs: [], waiters: [] };
      setImmediate(() => this.flush());
    }
    const batch = this.pending;
    for (const data of items)
      batch.jobs.push({ name: data.event.type, data, opts: { jobId: toJobId(data.event.id) } });
    const settled = new Promise<void>((resolve, reject) => batch.waiters.push({ resolve, reject }));
    if (batch.jobs.length >= maxBatch) this.flush();
    return settled;
  }

  private flush(): void {
    const batch = this.pending;
    if (!batch) return;
    this.pending = undefined;
    const away = notConnected(this.connection);
    (away
      ? Promise.reject(new Error(away))
      : withTimeout(
          this.queue.addBulk(batch.jobs),
          enqueueTimeoutMs,
          `Redis did not answer within ${enqueueTimeoutMs} ms`,
        )
    ).then(
      () => {
        for (const waiter of batch.waiters) waiter.resolve();
      },
      (error: unknown) => {
        const failure = new HubError(
          'TH_ERR_QUEUE_UNAVAILABLE',
          `events not enqueued: ${(error as Error).message}`,
          {
            cause: error,
          },
        );
        for (const waiter of batch.waiters) waiter.reject(failure);
      },
    );
  }

  /** Closes the queue; gives up waiting after a few seconds when Redis is away (nothing is pending then). */
  async close(): Promise<void> {
    await withTimeout(this.queue.close(), 5000, 'queue close timed out').catch(() => {});
  }
}
