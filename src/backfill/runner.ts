// Runs one backfill in the process that holds its lease:
//   reader ──batch──▶ filter, mark `backfill: <id>` ──▶ backfill queue (addBulk, job id <backfill id>/<event id>)
//          ◀── cursor persisted only after the batch is durable ──┘
//   backfill queue ═ Redis ═▶ a second dispatcher (rate-limited BullMQ worker) ──▶ the trigger's target
// A restart resumes from the persisted cursor: the batch in flight is read and enqueued again, and its job
// ids make that a no-op for what is already there (or was delivered: completed jobs are kept for the
// de-duplication window).

import type { Queue, Worker } from 'bullmq';
import type { Logger } from 'pino';
import { createDispatcher } from '../dispatch/dispatcher.ts';
import { dispatchShutdown } from '../dispatch/shutdown.ts';
import type { RunningTrigger } from '../engine/running-trigger.ts';
import { toHubEvent } from '../envelope/event.ts';
import { toJobId } from '../envelope/ids.ts';
import { errorMessage, HubError } from '../errors.ts';
import { compileFilter } from '../filter/filter.ts';
import { Instrumentation } from '../instrumentation.ts';
import { jobOptions } from '../queue/event-queue.ts';
import type { EventJobData } from '../queue/job.ts';
import { backfillQueueName } from '../queue/keys.ts';
import { openProducerQueue } from '../queue/producer-queue.ts';
import type { RedisClient } from '../queue/redis.ts';
import { retry, sleep } from '../retry/backoff.ts';
import { withTimeout } from '../retry/timeout.ts';
import type { BackfillBatch, BackfillReaderFactory } from '../sensor/backfill-reader.ts';
import { sourceKindOf } from '../trigger/schema.ts';
import { type BackfillRecord, backfillExtension } from './backfill.ts';
import { LiveFirst } from './live-first.ts';
import type { BackfillStore } from './store.ts';

/** Reading pauses while this many seconds of deliveries (at the backfill's rate) wait in its queue. */
const bufferSeconds = 30;
const minBuffered = 2000;
/** A failing source (broker away) is retried this many times, resuming from the cursor, before failing. */
const maxReadAttempts = 6;
const pollMs = 500;
const maxJobsPerWrite = 100;

export interface RunnerContext {
  record: BackfillRecord;
  running: RunningTrigger;
  createReader: BackfillReaderFactory;
  store: BackfillStore;
  producer: RedisClient;
  workerConnection: RedisClient;
  /** The hub's: a backfill's deliveries are reported as `backfill.*`, apart from the live metrics. */
  instrumentation: Instrumentation;
  /** Aborted when the lease is lost, the hub stops or the trigger is replaced: stop, leave it running. */
  signal: AbortSignal;
  log: Logger;
  /** Deadline for in-flight deliveries when stopping. */
  stopDeadlineMs: number;
}

/** Resolves when the backfill ended (completed, cancelled, failed) or was interrupted (signal). */
export async function runBackfill(context: RunnerContext): Promise<void> {
  const { record, running, store, signal } = context;
  const trigger = running.ref.key;
  const log = context.log.child({ backfill: record.id });
  const spec = running.trigger.spec;
  const delivery = spec.delivery;
  const queue = openProducerQueue<EventJobData>(
    backfillQueueName(running.ref),
    context.producer,
    jobOptions(delivery),
  );
  // Counted in Redis by whoever delivers; the writes are awaited before the backfill is called complete.
  const counting = new Set<Promise<void>>();
  const count = (counter: 'delivered' | 'deadLettered') => {
    const write = store
      .increment(trigger, record.id, counter)
      .catch(() => {})
      .finally(() => counting.delete(write));
    counting.add(write);
  };
  const lane = new Instrumentation();
  lane.on('delivery.succeeded', (_trigger, _status, durationMs) => {
    count('delivered');
    context.instrumentation.emit('backfill.delivered', trigger, durationMs);
  });
  lane.on('delivery.dead-lettered', (_trigger, reason) => {
    count('deadLettered');
    context.instrumentation.emit('backfill.dead-lettered', trigger, reason);
  });
  const dispatcher = record.dryRun
    ? undefined
    : createDispatcher({
        trigger: running.ref,
        connection: context.workerConnection,
        // The backfill's own rate (a BullMQ limiter on its queue, across hub processes); the live queue keeps
        // its own limiter and never waits for this one.
        delivery: { ...delivery, rateLimit: { max: record.rate, durationMs: 1000 } },
        target: running.target,
        sensor: running.deliveryHooks(),
        instrumentation: lane,
        log,
        queue: backfillQueueName(running.ref),
        ageFrom: 'enqueued',
      });

  const liveFirst = dispatcher ? yieldToLive(dispatcher, running, signal, log) : undefined;
  const filter = compileFilter(spec.filter);
  let readAttempts = 0;
  const ended = async () => (await store.status(trigger, record.id)) !== 'running';
  try {
    let cursor = record.cursor;
    let readDone = record.readDone;
    if (!readDone) {
      await retry(
        async (attempt) => {
          readAttempts = attempt;
          const reader = context.createReader(spec.source[sourceKindOf(spec)], {
            trigger: running.ref,
            from: record.from,
            to: record.to,
            ...(cursor ? { cursor } : {}),
            signal,
            log,
          });
          try {
            for await (const batch of reader.read()) {
              if (signal.aborted || (await ended())) return;
              if (!record.dryRun) await waitForRoom(queue, record.rate, signal);
              if (signal.aborted) return;
              await enqueueBatch(batch);
              cursor = batch.cursor;
            }
            readDone = !signal.aborted;
          } finally {
            await reader.close().catch((error) => log.warn({ err: error }, 'backfill reader did not close'));
          }
        },
        {
          signal,
          retriable: (error) =>
            (!(error instanceof HubError) || error.retriable) && readAttempts < maxReadAttempts,
          onRetry: (error, attempt, delayMs) =>
            log.warn({ err: error, attempt, delayMs }, 'backfill read failed; resuming from its cursor'),
        },
      );
      if (!readDone) return finishIfCancelled();
      await store.set(trigger, record.id, { readDone: '1' });
      log.info('backfill range read; delivering the rest');
    }
    while (!signal.aborted) {
      if (await ended()) return finishIfCancelled();
      if (record.dryRun || (await undelivered(queue)) === 0) {
        await Promise.all(counting);
        await store.finish(trigger, record.id, 'completed');
        log.info('backfill completed');
        return;
      }
      await sleep(pollMs, signal);
    }
  } catch (error) {
    if (signal.aborted) return;
    log.error({ err: error }, 'backfill failed');
    await store.finish(trigger, record.id, 'failed', errorMessage(error)).catch(() => {});
    await removeUndelivered(queue);
  } finally {
    liveFirst?.stop();
    // A worker the live stream paused is resumed first, so its shutdown lets in-flight deliveries finish.
    if (dispatcher?.isPaused()) dispatcher.resume();
    if (dispatcher) await dispatchShutdown(dispatcher, context.stopDeadlineMs);
    await Promise.all(counting);
    await withTimeout(queue.close(), 5000, 'queue close timed out').catch(() => {});
  }

  /**
   * Written once Redis has the whole batch; only then does the cursor move past it. In slices, each after a
   * calm window: converting and writing a thousand events at once would hold the event loop and Redis for
   * tens of milliseconds, and the live stream's deliveries would wait behind them.
   */
  async function enqueueBatch(batch: BackfillBatch): Promise<void> {
    let filtered = 0;
    let enqueued = 0;
    for (let start = 0; start < batch.events.length; start += maxJobsPerWrite) {
      await liveFirst?.waitForCalm();
      if (signal.aborted) return;
      const jobs = toJobs(batch.events.slice(start, start + maxJobsPerWrite));
      filtered += Math.min(maxJobsPerWrite, batch.events.length - start) - jobs.length;
      enqueued += jobs.length;
      if (!record.dryRun && jobs.length > 0)
        await withTimeout(queue.addBulk(jobs), 30_000, 'Redis did not take the backfill batch within 30 s');
    }
    await store.recordBatch(
      trigger,
      record.id,
      { read: batch.events.length, filtered, enqueued },
      batch.cursor,
    );
  }

  function toJobs(inputs: BackfillBatch['events']) {
    const jobs: Array<{ name: string; data: EventJobData; opts: { jobId: string } }> = [];
    for (const input of inputs) {
      // The filter sees the event as the live trigger saw it; the mark is added after.
      if (input.poison === undefined && !filter(input).match) continue;
      const event = toHubEvent({ ...input, [backfillExtension]: record.id });
      jobs.push({
        name: event.type,
        data: input.poison === undefined ? { event } : { event, poison: input.poison },
        // Unique per backfill, so a second backfill of the same range is delivered again, while a
        // re-read of this one's unpersisted batch is not. The event keeps its own id (Idempotency-Key).
        opts: { jobId: toJobId(`${record.id}/${event.id}`) },
      });
    }
    return jobs;
  }

  /** A cancel (API, CLI) ends the record; this process removes what it enqueued meanwhile. */
  async function finishIfCancelled(): Promise<void> {
    if (signal.aborted) return;
    const current = await store.get(trigger, record.id);
    if (current?.status === 'cancelled') await removeUndelivered(queue);
  }
}

/** The backfill's deliveries get the concurrency the live stream leaves them (live-first.ts). */
function yieldToLive(
  dispatcher: Worker,
  running: RunningTrigger,
  signal: AbortSignal,
  log: Logger,
): LiveFirst {
  const ceiling = running.trigger.spec.delivery.concurrency;
  let paused = false;
  dispatcher.concurrency = 1;
  return new LiveFirst({
    ceiling,
    liveBacklog: () => running.queue.queue.getWaitingCount(),
    backlogHigh: Math.max(10, ceiling),
    signal,
    apply: async (concurrency) => {
      log.debug({ concurrency }, 'backfill concurrency');
      if (concurrency === 0) {
        paused = true;
        await dispatcher.pause(true);
        return;
      }
      dispatcher.concurrency = concurrency;
      if (paused) {
        paused = false;
        dispatcher.resume();
      }
    },
  });
}

/** Jobs of the backfill queue not yet delivered or dead-lettered. */
export async function undelivered(queue: Queue): Promise<number> {
  const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
  return Object.values(counts).reduce((sum, value) => sum + value, 0);
}

/** Cancel: what waits (or waits to be retried) is removed; deliveries in flight finish. */
export async function removeUndelivered(queue: Queue): Promise<void> {
  await queue.drain(true).catch(() => {});
}

/**
 * Keeps the backfill queue to about `bufferSeconds` of deliveries: reading runs ahead of the rate-limited
 * delivery only that far, so a backfill of a billion records does not fill Redis.
 */
async function waitForRoom(queue: Queue, rate: number, signal: AbortSignal): Promise<void> {
  const room = Math.max(minBuffered, rate * bufferSeconds);
  while (!signal.aborted && (await queue.getWaitingCount()) + (await queue.getDelayedCount()) >= room)
    await sleep(pollMs, signal);
}
