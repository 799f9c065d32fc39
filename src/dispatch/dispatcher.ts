// The consumer side of a trigger's queue: a BullMQ Worker that delivers each event to the target.
// A failed attempt goes back as a delayed job (other events keep flowing: no head-of-line blocking);
// a job out of attempts, or rejected for good, stays in BullMQ's failed set: the dead-letter queue.

import { type Job, UnrecoverableError, Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { Instrumentation } from '../instrumentation.ts';
import type { DeliveredResult, EventJobData, LastAttempt } from '../queue/job.ts';
import { keyPrefix, queueName } from '../queue/keys.ts';
import type { RedisClient } from '../queue/redis.ts';
import { backoffDelay } from '../retry/backoff.ts';
import type { Sensor, TriggerRef } from '../sensor/sensor.ts';
import type { Target } from '../targets/target.ts';
import type { DeliverySpec } from '../trigger/schema.ts';

/** A Retry-After longer than this is not believed. */
const maxRetryAfterMs = 3_600_000;

class DeliveryError extends Error {
  readonly retryAfterMs: number | undefined;
  constructor(message: string, retryAfterMs: number | undefined) {
    super(message);
    this.name = 'DeliveryError';
    this.retryAfterMs = retryAfterMs;
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
}

export function createDispatcher(options: DispatcherOptions): Worker<EventJobData, DeliveredResult> {
  const { trigger, delivery, target, sensor, instrumentation } = options;

  async function deliver(job: Job<EventJobData, DeliveredResult>): Promise<DeliveredResult> {
    const { event, poison } = job.data;
    if (poison !== undefined) {
      await deadLetter(
        job,
        { error: `TH_ERR_POISON_EVENT: ${poison}`, at: new Date().toISOString() },
        'poison',
      );
      throw new UnrecoverableError(`TH_ERR_POISON_EVENT: ${poison}`);
    }
    const sourceTime = event.time ? Date.parse(event.time) : Number.NaN;
    const eventTime = Number.isFinite(sourceTime) ? sourceTime : job.timestamp;
    if (delivery.maxAgeMs !== undefined && Date.now() - eventTime > delivery.maxAgeMs) {
      const error = `TH_ERR_EVENT_EXPIRED: the event is ${Math.round((Date.now() - eventTime) / 1000)} s old; maxAgeMs is ${delivery.maxAgeMs}`;
      await deadLetter(job, { error, at: new Date().toISOString() }, 'expired');
      throw new UnrecoverableError(error);
    }
    const outcome = await target.deliver(event);
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
    throw new DeliveryError(message, outcome.retryAfterMs);
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

  const worker = new Worker<EventJobData, DeliveredResult>(queueName(trigger), deliver, {
    connection: options.connection,
    prefix: keyPrefix,
    concurrency: delivery.concurrency,
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
        const retryAfter = error instanceof DeliveryError ? error.retryAfterMs : undefined;
        if (retryAfter !== undefined) return Math.min(retryAfter, maxRetryAfterMs);
        return backoffDelay(delivery.backoff, attemptsMade);
      },
    },
  });
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
