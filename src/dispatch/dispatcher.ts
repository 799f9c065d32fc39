// The consumer side of a trigger's queue: a BullMQ Worker that delivers each event to the target.
// A failed attempt goes back as a delayed job (other events keep flowing: no head-of-line blocking);
// a job out of attempts, or rejected for good, stays in BullMQ's failed set: the dead-letter queue.
// With delivery.batch, a job's event goes through the collector (batcher.ts) instead of its own request.

import { type Job, UnrecoverableError, Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { HubEvent } from '../envelope/event.ts';
import { HubError } from '../errors.ts';
import type { Instrumentation } from '../instrumentation.ts';
import type { LastAttempt } from '../interfaces/delivery.ts';
import type { DeliveredResult, EventJobData } from '../queue/job.ts';
import { keyPrefix, queueName } from '../queue/keys.ts';
import type { RedisClient } from '../queue/redis.ts';
import { backoffDelay } from '../retry/backoff.ts';
import type { Sensor, TriggerRef } from '../sensor/sensor.ts';
import type { DeliveryOutcome, Target } from '../targets/target.ts';
import type { DeliverySpec } from '../trigger/schema.ts';
import { Batcher } from './batcher.ts';

/** A Retry-After longer than this is not believed. */
const maxRetryAfterMs = 3_600_000;

class DeliveryError extends Error {
  /** Retry-After, or the delay shared by the events of one failed batch; else the backoff policy decides. */
  readonly delayMs: number | undefined;
  constructor(message: string, delayMs: number | undefined) {
    super(message);
    this.name = 'DeliveryError';
    this.delayMs = delayMs;
  }
}

export interface DispatcherOptions {
  trigger: TriggerRef;
  connection: RedisClient;
  delivery: DeliverySpec;
  target: Target;
  /** Its delivery hooks (reply and error topics) run after the target answers. */
  sensor: Pick<Sensor, 'onDelivered' | 'onDeadLettered'>;
  instrumentation: Instrumentation;
  log: Logger;
  /** The queue to deliver from (default: the trigger's live queue; a backfill passes its own). */
  queue?: string;
  /**
   * Where an event's age (maxAgeMs, the age reported on delivery) is measured from: its source `time`
   * (live events), or when it was enqueued (a backfill re-delivers old events on purpose: they must not
   * all be expired by maxAgeMs).
   */
  ageFrom?: 'source' | 'enqueued';
}

export function createDispatcher(options: DispatcherOptions): Worker<EventJobData, DeliveredResult> {
  const { trigger, delivery, target, sensor, instrumentation } = options;
  const batcher =
    delivery.batch && target.deliverBatch
      ? new Batcher<HubEvent>({
          ...delivery.batch,
          maxInFlight: delivery.concurrency,
          // The event's share of the JSON array body (its serialization and a comma).
          sizeOf: (event) => Buffer.byteLength(JSON.stringify(event)) + 1,
          send: (events) => target.deliverBatch!(events),
          onRequest: (size) => instrumentation.emit('delivery.batch', trigger.key, size),
        })
      : undefined;
  // One backoff per failed batch request, so its events come back together and form a batch again
  // (a per-job jitter would scatter them into many small batches).
  const batchDelays = new WeakMap<DeliveryOutcome, number>();
  function batchDelay(outcome: DeliveryOutcome, attempt: number): number {
    const known = batchDelays.get(outcome);
    if (known !== undefined) return known;
    const delay = backoffDelay(delivery.backoff, attempt);
    batchDelays.set(outcome, delay);
    return delay;
  }

  async function deliver(job: Job<EventJobData, DeliveredResult>): Promise<DeliveredResult> {
    const { event, poison } = job.data;
    if (poison !== undefined)
      return undeliverable(job, new HubError('TH_ERR_POISON_EVENT', poison), 'poison');
    const sourceTime = event.time && options.ageFrom !== 'enqueued' ? Date.parse(event.time) : Number.NaN;
    const eventTime = Number.isFinite(sourceTime) ? sourceTime : job.timestamp;
    if (delivery.maxAgeMs !== undefined && Date.now() - eventTime > delivery.maxAgeMs) {
      const age = Math.round((Date.now() - eventTime) / 1000);
      const expired = new HubError(
        'TH_ERR_EVENT_EXPIRED',
        `the event is ${age} s old; maxAgeMs is ${delivery.maxAgeMs}`,
      );
      return undeliverable(job, expired, 'expired');
    }
    instrumentation.emit('delivery.started', trigger.key);
    let outcome: DeliveryOutcome;
    try {
      outcome = batcher ? await batcher.submit(event) : await target.deliver(event);
    } finally {
      instrumentation.emit('delivery.settled', trigger.key);
    }
    if (outcome.ok) {
      await sensor.onDelivered?.(event, {
        status: outcome.status!,
        body: outcome.body ?? Buffer.alloc(0),
        ...(outcome.contentType ? { contentType: outcome.contentType } : {}),
      });
      instrumentation.emit(
        'delivery.succeeded',
        trigger.key,
        outcome.status!,
        outcome.durationMs,
        Date.now() - eventTime,
      );
      return { status: outcome.status!, durationMs: Math.round(outcome.durationMs) };
    }
    const message = outcome.excerpt ? `${outcome.error}: ${outcome.excerpt.slice(0, 200)}` : outcome.error!;
    const attempts = job.opts.attempts ?? 1;
    const lastAttempt = !outcome.retriable || job.attemptsMade + 1 >= attempts;
    instrumentation.emit('delivery.failed', trigger.key, outcome.status, outcome.durationMs, !lastAttempt);
    if (lastAttempt) {
      const last: LastAttempt = {
        ...(outcome.status === undefined ? {} : { status: outcome.status }),
        ...(outcome.excerpt === undefined ? {} : { excerpt: outcome.excerpt }),
        error: outcome.error!,
        at: new Date().toISOString(),
      };
      await deadLetter(job, last, outcome.retriable ? 'attempts' : 'rejected');
    }
    if (!outcome.retriable) throw new UnrecoverableError(message);
    const delayMs = outcome.retryAfterMs ?? (batcher ? batchDelay(outcome, job.attemptsMade + 1) : undefined);
    throw new DeliveryError(message, delayMs);
  }

  /**
   * An event that is never sent (poison, expired): dead-lettered at once. Its coded error is the entry's
   * text (`TH_ERR_POISON_EVENT: <reason>`), in `lastAttempt.error` and BullMQ's failedReason alike.
   */
  async function undeliverable(job: Job<EventJobData>, error: HubError, reason: string): Promise<never> {
    await deadLetter(job, { error: error.describe(), at: new Date().toISOString() }, reason);
    throw new UnrecoverableError(error.describe());
  }

  /** Records what the last attempt saw in the job (the DLQ entry) and runs the sensor's hook. */
  async function deadLetter(job: Job<EventJobData>, lastAttempt: LastAttempt, reason: string): Promise<void> {
    await job.updateData({ ...job.data, lastAttempt });
    instrumentation.emit('delivery.dead-lettered', trigger.key, reason);
    try {
      await sensor.onDeadLettered?.(job.data.event, lastAttempt);
    } catch (error) {
      options.log.warn({ err: error, jobId: job.id }, 'the error-topic hook failed; the event is in the DLQ');
    }
  }

  const worker = new Worker<EventJobData, DeliveredResult>(options.queue ?? queueName(trigger), deliver, {
    connection: options.connection,
    prefix: keyPrefix,
    // Batched: enough jobs active to fill `concurrency` requests of maxEvents each.
    concurrency: delivery.concurrency * (batcher ? delivery.batch!.maxEvents : 1),
    ...(delivery.rateLimit
      ? { limiter: { max: delivery.rateLimit.max, duration: delivery.rateLimit.durationMs } }
      : {}),
    // A SIGKILLed hub's active jobs are picked up again once their lock lapses; at-least-once means a job
    // may stall many times under repeated crashes without being dead-lettered for it. BullMQ finds a stalled
    // job in two passes of its stalled check (mark, then move once the lock is gone): with its 30 s default
    // the fault suite saw a killed hub's in-flight events come back after up to 60 s; every 5 s it is ≤ ~20 s.
    lockDuration: 15_000,
    stalledInterval: 5000,
    maxStalledCount: 100,
    // After a Redis outage the worker's loop waits this long before it fetches again (BullMQ's default 15 s
    // held deliveries back well after Redis was back).
    runRetryDelay: 2000,
    settings: {
      backoffStrategy: (attemptsMade, _type, error) => {
        const delay = error instanceof DeliveryError ? error.delayMs : undefined;
        if (delay !== undefined) return Math.min(delay, maxRetryAfterMs);
        return backoffDelay(delivery.backoff, attemptsMade);
      },
    },
  });
  // A closing worker fetches no more jobs: send the open batch now rather than after maxWaitMs.
  if (batcher) worker.on('closing', () => batcher.flush());
  // Redis outages: the worker reconnects by itself; say so without crashing, once per kind of error a minute.
  let lastError = { message: '', at: 0 };
  worker.on('error', (error) => {
    const now = Date.now();
    if (error.message === lastError.message && now - lastError.at < 60_000) return;
    lastError = { message: error.message, at: now };
    options.log.warn({ err: error }, 'dispatcher error (repeats are silenced for a minute)');
  });
  return worker;
}
