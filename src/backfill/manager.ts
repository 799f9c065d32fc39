// The hub's backfills: creates them (API, CLI), lists and cancels them, and runs the running ones. Every
// hub process scans the hub-wide set of triggers with a running backfill and takes the lease of any backfill
// nobody holds, so a backfill resumes after a restart (or on another replica) from its persisted cursor.

import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { Engine } from '../engine/engine.ts';
import type { RunningTrigger } from '../engine/running-trigger.ts';
import { errorMessage, HubError } from '../errors.ts';
import type { Instrumentation } from '../instrumentation.ts';
import {
  type DeadLetterEntry,
  deadLetterPage,
  openBackfillQueue,
  type ReplayRequest,
  replayDeadLetters,
} from '../queue/dead-letter.ts';
import type { EventJobData } from '../queue/job.ts';
import { acquireLease } from '../queue/lease.ts';
import type { RedisClient } from '../queue/redis.ts';
import { builtinSensors } from '../registry.ts';
import { withTimeout } from '../retry/timeout.ts';
import type { BackfillReaderFactory } from '../sensor/backfill-reader.ts';
import { sourceKindOf } from '../trigger/schema.ts';
import {
  type BackfillProgress,
  type BackfillRecord,
  type BackfillRequest,
  defaultBackfillRate,
  newBackfillId,
  parseBound,
  progressOf,
} from './backfill.ts';
import { removeUndelivered, runBackfill } from './runner.ts';
import { BackfillStore, leaseKey } from './store.ts';

export interface BackfillManagerOptions {
  engine: Engine;
  producer: RedisClient;
  workerConnection: RedisClient;
  instrumentation: Instrumentation;
  log: Logger;
  /** False for an ingest-only hub: it creates and lists backfills but runs none. */
  run: boolean;
  stopDeadlineMs: number;
  /** How long a SIGKILLed runner's lease blocks a resume elsewhere. */
  leaseMs?: number;
  scanIntervalMs?: number;
}

interface LocalRun {
  id: string;
  abort: AbortController;
  done: Promise<void>;
}

export class BackfillManager {
  private readonly options: BackfillManagerOptions;
  private readonly store: BackfillStore;
  private readonly runs = new Map<string, LocalRun>();
  /** Each trigger's backfill queue, for reading and replaying its dead letters (opened on first use). */
  private readonly queues = new Map<string, Queue<EventJobData>>();
  private readonly stopping = new AbortController();
  private readonly timer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> = Promise.resolve();

  constructor(options: BackfillManagerOptions) {
    this.options = options;
    this.store = new BackfillStore(options.producer);
    if (options.run) {
      this.timer = setInterval(() => void this.scan(), options.scanIntervalMs ?? 2000);
      this.timer.unref();
    }
  }

  /** Starts a backfill of a trigger running in this hub; fails with a clear code when it cannot. */
  async create(triggerKey: string, request: BackfillRequest): Promise<BackfillProgress> {
    const running = this.runningTrigger(triggerKey);
    const createReader = await readerFactoryOf(running);
    const now = new Date();
    const record: BackfillRecord = {
      id: newBackfillId(),
      trigger: triggerKey,
      from: parseBound(request.from, 'from'),
      // No end given: up to now, so live traffic arriving meanwhile is left to the live stream.
      to: request.to === undefined ? { time: now } : parseBound(request.to, 'to'),
      rate: request.rate ?? defaultBackfillRate,
      dryRun: request.dryRun ?? false,
      status: 'running',
      createdAt: now.toISOString(),
      read: 0,
      filtered: 0,
      enqueued: 0,
      delivered: 0,
      deadLettered: 0,
      readDone: false,
    };
    if ('time' in record.from && 'time' in record.to && record.from.time >= record.to.time)
      throw new HubError('TH_ERR_BAD_REQUEST', 'to: must be later than from');
    // Opening the range up front turns a bad position or an unreachable source into an answer now, rather
    // than a failed backfill later, and gives progress its total.
    const estimate = await this.estimate(running, createReader, record);
    if (estimate !== undefined) record.estimate = estimate;
    if (!(await this.store.create(record)))
      throw new HubError(
        'TH_ERR_BACKFILL_CONFLICT',
        `trigger ${triggerKey} already has a running backfill (${await this.store.activeId(triggerKey)}): wait for it or cancel it`,
      );
    this.options.log.info(
      { trigger: triggerKey, backfill: record.id, from: request.from, to: request.to, dryRun: record.dryRun },
      'backfill created',
    );
    if (this.options.run) void this.tryStart(triggerKey);
    return progressOf(record);
  }

  async list(triggerKey: string): Promise<BackfillProgress[]> {
    this.knownTrigger(triggerKey);
    return (await this.store.list(triggerKey)).map((record) => progressOf(record));
  }

  async get(triggerKey: string, id: string): Promise<BackfillProgress> {
    this.knownTrigger(triggerKey);
    const record = await this.store.get(triggerKey, id);
    if (!record) throw new HubError('TH_ERR_UNKNOWN_BACKFILL', `no backfill ${id} of trigger ${triggerKey}`);
    return progressOf(record);
  }

  /** Stops reading and removes the backfill's undelivered jobs; deliveries in flight finish. */
  async cancel(triggerKey: string, id: string): Promise<BackfillProgress> {
    const before = await this.get(triggerKey, id);
    if (before.status === 'running') {
      await this.store.finish(triggerKey, id, 'cancelled', 'cancelled by request');
      // A runner here stops first, so nothing it enqueues lands after the drain. A runner in another hub
      // sees the status at its next batch and removes what it enqueued meanwhile itself.
      const local = this.runs.get(triggerKey);
      if (local?.id === id) {
        local.abort.abort();
        await local.done;
      }
      await removeUndelivered(this.backfillQueue(triggerKey));
      this.options.log.info({ trigger: triggerKey, backfill: id }, 'backfill cancelled');
    }
    return this.get(triggerKey, id);
  }

  /** Interrupts the backfills running here (their leases are released: another hub may resume them). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.stopping.abort();
    await this.scanning;
    await Promise.all([...this.runs.values()].map((run) => run.done));
    await Promise.all(
      [...this.queues.values()].map((queue) =>
        withTimeout(queue.close(), 5000, 'queue close timed out').catch(() => {}),
      ),
    );
  }

  /** What the trigger's backfills dead-lettered: a page, and the count of all. */
  async deadLetters(
    triggerKey: string,
    range: { offset?: number; limit?: number },
  ): Promise<{ count: number; entries: DeadLetterEntry[] }> {
    this.knownTrigger(triggerKey);
    return deadLetterPage(this.backfillQueue(triggerKey), range);
  }

  /** Moves them into the trigger's live queue: the backfill that dead-lettered them may have ended. */
  async replayDeadLetters(triggerKey: string, request: ReplayRequest): Promise<number> {
    const running = this.runningTrigger(triggerKey);
    return replayDeadLetters(this.backfillQueue(triggerKey), request, { into: running.queue.queue });
  }

  private backfillQueue(triggerKey: string): Queue<EventJobData> {
    let queue = this.queues.get(triggerKey);
    if (!queue) {
      queue = openBackfillQueue(triggerKey, this.options.producer);
      this.queues.set(triggerKey, queue);
    }
    return queue;
  }

  /** One scan at a time: takes over every running backfill of a trigger running here that nobody holds. */
  scan(): Promise<void> {
    this.scanning = this.scanning.then(async () => {
      try {
        for (const triggerKey of await this.store.activeTriggers()) await this.tryStart(triggerKey);
      } catch (error) {
        this.options.log.warn({ err: errorMessage(error) }, 'backfill scan failed; retrying');
      }
    });
    return this.scanning;
  }

  private async tryStart(triggerKey: string): Promise<void> {
    if (this.stopping.signal.aborted || this.runs.has(triggerKey)) return;
    const running = this.options.engine.get(triggerKey)?.running;
    if (!running || running.signal.aborted) return;
    const id = await this.store.activeId(triggerKey);
    if (!id) {
      await this.store.forgetActiveTrigger(triggerKey);
      return;
    }
    const record = await this.store.get(triggerKey, id);
    if (record?.status !== 'running' || this.runs.has(triggerKey)) return;
    const lease = await acquireLease(
      this.options.producer,
      leaseKey(triggerKey, id),
      this.options.leaseMs ?? 10_000,
    );
    if (!lease) return; // another hub process runs it
    if (this.runs.has(triggerKey)) {
      await lease.release();
      return;
    }
    const abort = new AbortController();
    const signal = AbortSignal.any([abort.signal, lease.lost, this.stopping.signal, running.signal]);
    const log = running.log.child({ backfill: id });
    const done = (async () => {
      try {
        log.info({ resumed: record.read > 0 || record.readDone }, 'backfill running');
        await runBackfill({
          record,
          running,
          createReader: await readerFactoryOf(running),
          store: this.store,
          producer: this.options.producer,
          workerConnection: this.options.workerConnection,
          instrumentation: this.options.instrumentation,
          signal,
          log,
          stopDeadlineMs: this.options.stopDeadlineMs,
        });
      } catch (error) {
        log.error({ err: errorMessage(error) }, 'backfill runner stopped');
      } finally {
        await lease.release();
        this.runs.delete(triggerKey);
      }
    })();
    this.runs.set(triggerKey, { id, abort, done });
  }

  private async estimate(
    running: RunningTrigger,
    createReader: BackfillReaderFactory,
    record: BackfillRecord,
  ): Promise<number | undefined> {
    const spec = running.trigger.spec;
    const abort = new AbortController();
    try {
      const reader = createReader(spec.source[sourceKindOf(spec)], {
        trigger: running.ref,
        from: record.from,
        to: record.to,
        signal: abort.signal,
        log: running.log,
      });
      try {
        return await withTimeout(reader.estimate(), 30_000, 'the source did not answer within 30 s');
      } finally {
        abort.abort();
        await reader.close().catch(() => {});
      }
    } catch (error) {
      if (error instanceof HubError) throw error;
      throw new HubError('TH_ERR_BAD_REQUEST', `cannot open the backfill range: ${errorMessage(error)}`, {
        cause: error,
      });
    }
  }

  private knownTrigger(triggerKey: string): void {
    if (!this.options.engine.get(triggerKey))
      throw new HubError('TH_ERR_UNKNOWN_TRIGGER', `trigger ${triggerKey} is not known to this hub`);
  }

  private runningTrigger(triggerKey: string): RunningTrigger {
    const running = this.options.engine.get(triggerKey)?.running;
    if (!running) throw new HubError('TH_ERR_UNKNOWN_TRIGGER', `trigger ${triggerKey} is not running here`);
    return running;
  }
}

async function readerFactoryOf(running: RunningTrigger): Promise<BackfillReaderFactory> {
  const kind = sourceKindOf(running.trigger.spec);
  const definition = builtinSensors[kind] as { backfill?: () => Promise<BackfillReaderFactory> };
  if (!definition.backfill)
    throw new HubError(
      'TH_ERR_BACKFILL_UNSUPPORTED',
      `trigger ${running.ref.key} reads a ${kind} source, which is not replayable at the source: ` +
        'only Kafka, NATS JetStream, Kinesis and MinIO (by listing its bucket) triggers can be backfilled (docs/backfill.md)',
    );
  return definition.backfill();
}
