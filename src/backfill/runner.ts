// Runs one backfill in the process that holds its lease:
//   reader ──batch──▶ filter, mark `backfill: <id>` ──▶ backfill queue (addBulk, job id <backfill id>/<event id>)
//          ◀── cursor persisted only after the batch is durable ──┘
//   backfill queue ═ Redis ═▶ a second dispatcher (rate-limited BullMQ worker) ──▶ the trigger's target
// A restart resumes from the persisted cursor: the batch in flight is read and enqueued again, and its job
// ids make that a no-op for what is already there (or was delivered: completed jobs are kept for the
// de-duplication window).

import { Queue, type Worker } from 'bullmq';
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
import { backfillQueueName, keyPrefix } from '../queue/keys.ts';
import type { RedisClient } from '../queue/redis.ts';
import { retry, sleep } from '../retry/backoff.ts';
import { withTimeout } from '../retry/timeout.ts';
import { sourceKindOf } from '../trigger/schema.ts';
import { type BackfillRecord, backfillExtension } from './backfill.ts';
import type { BackfillBatch, BackfillReaderFactory } from './reader.ts';
import type { BackfillStore } from './store.ts';

/** Reading pauses while this many seconds of deliveries (at the backfill's rate) wait in its queue. */
const bufferSeconds = 30;
const minBuffered = 2000;
/** A failing source (broker away) is retried this many times, resuming from the cursor, before failing. */
const maxReadAttempts = 6;
const pollMs = 500;
const maxJobsPerWrite = 200;
/** How often the backfill lane looks at the live queue's backlog. */
const yieldCheckMs = 250;

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
  const queue = new Queue<EventJobData>(backfillQueueName(running.ref), {
    connection: context.producer,
    prefix: keyPrefix,
    defaultJobOptions: jobOptions(delivery),
  });
  queue.on('error', () => {});
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

  const yielding = dispatcher ? yieldToLive(dispatcher, running, signal, log) : undefined;
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
    yielding?.stop();
    if (dispatcher) await dispatchShutdown(dispatcher, context.stopDeadlineMs);
    await Promise.all(counting);
    await withTimeout(queue.close(), 5000, 'queue close timed out').catch(() => {});
  }

  /** Written once Redis has the whole batch; only then does the cursor move past it. */
  async function enqueueBatch(batch: BackfillBatch): Promise<void> {
    const jobs: Array<{ name: string; data: EventJobData; opts: { jobId: string } }> = [];
    let filtered = 0;
    for (const input of batch.events) {
      // The filter sees the event as the live trigger saw it; the mark is added after.
      if (input.poison === undefined) {
        const verdict = filter(input);
        if (!verdict.match) {
          filtered++;
          continue;
        }
      }
      const event = toHubEvent({ ...input, [backfillExtension]: record.id });
      jobs.push({
        name: event.type,
        data: input.poison === undefined ? { event } : { event, poison: input.poison },
        // Unique per backfill, so a second backfill of the same range is delivered again, while a
        // re-read of this one's unpersisted batch is not. The event keeps its own id (Idempotency-Key).
        opts: { jobId: toJobId(`${record.id}/${event.id}`) },
      });
    }
    // In slices: Redis runs each addBulk as one block, and the live queue's writes must not wait behind a
    // thousand-job backfill write. The cursor still moves only after the last slice.
    for (let start = 0; !record.dryRun && start < jobs.length; start += maxJobsPerWrite)
      await withTimeout(
        queue.addBulk(jobs.slice(start, start + maxJobsPerWrite)),
        30_000,
        'Redis did not take the backfill batch within 30 s',
      );
    await store.recordBatch(
      trigger,
      record.id,
      { read: batch.events.length, filtered, enqueued: jobs.length },
      batch.cursor,
    );
  }

  /** A cancel (API, CLI) ends the record; this process removes what it enqueued meanwhile. */
  async function finishIfCancelled(): Promise<void> {
    if (signal.aborted) return;
    const current = await store.get(trigger, record.id);
    if (current?.status === 'cancelled') await removeUndelivered(queue);
  }
}

/**
 * The live stream first: while the trigger's live queue has a backlog (more waiting than its workers take at
 * once), the backfill worker pauses, so on a busy hub the CPU and the target's connections go to live events.
 * The check is one LLEN of the shared live queue, so it holds across hub processes.
 */
function yieldToLive(
  dispatcher: Worker,
  running: RunningTrigger,
  signal: AbortSignal,
  log: Logger,
): { stop(): void } {
  const high = Math.max(10, running.trigger.spec.delivery.concurrency);
  let paused = false;
  let checking = false;
  const timer = setInterval(() => {
    if (checking || signal.aborted) return;
    checking = true;
    running.queue.queue
      .getWaitingCount()
      .then(async (waiting) => {
        if (!paused && waiting > high) {
          paused = true;
          log.debug({ waiting }, 'live backlog: the backfill yields');
          await dispatcher.pause(true);
        } else if (paused && waiting <= high / 2) {
          paused = false;
          dispatcher.resume();
        }
      })
      .catch(() => {})
      .finally(() => {
        checking = false;
      });
  }, yieldCheckMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      if (paused) dispatcher.resume();
    },
  };
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
