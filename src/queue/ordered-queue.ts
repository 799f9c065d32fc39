// Per-key ordered delivery (`spec.delivery.ordering.mode: per-key`) on top of a trigger's BullMQ queue.
// BullMQ OSS has no groups, so the order lives beside the queue, under the trigger's hash tag (one Redis
// Cluster slot): a FIFO list of job ids per ordering key, the pending events in one hash, and the set of keys
// with pending events. Only the head of each key's FIFO is ever a BullMQ job, so a key has at most one
// delivery in flight, its retries (backoff, Retry-After) hold back that key alone, and every other key's
// head keeps flowing through the worker's normal concurrency.
//
//   emit ──▶ ENQUEUE script (dedupe on the event id, store, RPUSH; returns the ids that became heads)
//        ──▶ EventQueue.enqueue(heads)  (addBulk, deterministic job ids)  ──▶ the emit resolves
//   head completed / dead-lettered ──▶ ADVANCE script (pop it if it still heads, return the next) ──▶ add it
//
// Each script is one atomic step. A crash between a script and the add that follows leaves a head without a
// job (or a finished head not popped): the repair, at start and every `repairIntervalMs`, finds those and
// adds or pops them. Adds are idempotent (the job id is the event id), pops are conditional (only the head),
// so the repair may race the normal path freely.
//
// A re-emitted event is recognized while it is pending (the hash) and afterwards as long as its BullMQ job
// is kept (an hour or 20,000 completed jobs, the dead-letter retention): the same window as the unordered
// path, by construction, since it is the same job key.

import type { Job, Queue, Worker } from 'bullmq';
import type { Logger } from 'pino';
import { toJobId } from '../envelope/ids.ts';
import { HubError } from '../errors.ts';
import type { TriggerRef } from '../interfaces/trigger-ref.ts';
import { withTimeout } from '../retry/timeout.ts';
import type { SensorCapabilities } from '../sensor/sensor.ts';
import type { OrderingSpec } from '../trigger/schema.ts';
import type { EventQueue } from './event-queue.ts';
import type { EventJobData } from './job.ts';
import { jobKey, orderedKeys } from './keys.ts';
import { orderingKeyOf } from './ordering-key.ts';
import type { RedisClient } from './redis.ts';

/** Events per ENQUEUE script call: one script blocks Redis while it runs, so keep each bounded. */
const maxBatch = 1000;
const redisTimeoutMs = 5000;
export const defaultRepairIntervalMs = 30_000;

// KEYS: events hash, keys set, then (job key, list) per event. ARGV: (job id, payload, ordering key) per event.
const enqueueScript = `
local heads = {}
for i = 1, #ARGV / 3 do
  local jobId, payload, orderingKey = ARGV[i * 3 - 2], ARGV[i * 3 - 1], ARGV[i * 3]
  local job, list = KEYS[i * 2 + 1], KEYS[i * 2 + 2]
  if redis.call('HEXISTS', KEYS[1], jobId) == 1 then
    -- Pending already. If it heads its key but has no job (the emit that stored it failed before adding
    -- it), hand it out again: the re-emit heals the key at once instead of at the next repair.
    if redis.call('LINDEX', list, 0) == jobId and redis.call('EXISTS', job) == 0 then
      heads[#heads + 1] = jobId
    end
  elseif redis.call('EXISTS', job) == 0 then
    redis.call('HSET', KEYS[1], jobId, payload)
    if redis.call('RPUSH', list, jobId) == 1 then
      redis.call('SADD', KEYS[2], orderingKey)
      heads[#heads + 1] = jobId
    end
  end
end
return heads
`;

// KEYS: events hash, keys set, list. ARGV: job id, ordering key. Returns the next head's payload, or nil.
const advanceScript = `
if redis.call('LINDEX', KEYS[3], 0) ~= ARGV[1] then return false end
redis.call('LPOP', KEYS[3])
redis.call('HDEL', KEYS[1], ARGV[1])
local nextId = redis.call('LINDEX', KEYS[3], 0)
if not nextId then
  redis.call('SREM', KEYS[2], ARGV[2])
  return false
end
return redis.call('HGET', KEYS[1], nextId)
`;

// KEYS: list, events hash, keys set, the head's job key. ARGV: head id (as read), ordering key.
const inspectScript = `
local head = redis.call('LINDEX', KEYS[1], 0)
if not head then
  redis.call('SREM', KEYS[3], ARGV[2])
  return {'empty'}
end
if head ~= ARGV[1] then return {'moved'} end
if redis.call('EXISTS', KEYS[4]) == 1 then
  if redis.call('HEXISTS', KEYS[4], 'finishedOn') == 1 then return {'finished'} end
  return {'live'}
end
local payload = redis.call('HGET', KEYS[2], head)
if payload then return {'missing', payload} end
return {'orphan'}
`;

interface OrderedCommands {
  thOrderedEnqueue(numKeys: number, ...keysAndArgs: string[]): Promise<string[]>;
  thOrderedAdvance(numKeys: number, ...keysAndArgs: string[]): Promise<string | null>;
  thOrderedInspect(numKeys: number, ...keysAndArgs: string[]): Promise<[string, string?]>;
}

function withScripts(client: RedisClient): OrderedCommands {
  const commands = client as unknown as Partial<OrderedCommands>;
  if (!commands.thOrderedEnqueue) {
    // defineCommand sends EVALSHA and falls back to EVAL once per node (a restarted Redis forgets scripts).
    client.defineCommand('thOrderedEnqueue', { lua: enqueueScript });
    client.defineCommand('thOrderedAdvance', { lua: advanceScript });
    client.defineCommand('thOrderedInspect', { lua: inspectScript });
  }
  return client as unknown as OrderedCommands;
}

function unavailable(error: unknown): HubError {
  return new HubError('TH_ERR_QUEUE_UNAVAILABLE', `events not enqueued: ${(error as Error).message}`, {
    cause: error,
  });
}

export interface OrderedQueueOptions {
  trigger: TriggerRef;
  /** The producer connection (fails fast when Redis is away). */
  connection: RedisClient;
  /** The trigger's unordered producer: heads are added through it (one coalesced addBulk). */
  events: EventQueue;
  ordering: OrderingSpec;
  /** The source's own order, for events without an ordering key (its definition's capabilities). */
  sourceOrderOf?: SensorCapabilities['sourceOrderOf'];
  log: Logger;
  repairIntervalMs?: number;
}

export interface RepairResult {
  /** Heads that had no job and were added. */
  added: number;
  /** Finished heads that were popped (the key moved on). */
  advanced: number;
}

export class OrderedQueue {
  private readonly options: OrderedQueueOptions;
  private readonly keys: ReturnType<typeof orderedKeys>;
  private readonly redis: OrderedCommands;
  private readonly inFlight = new Set<Promise<void>>();
  private repairTimer: NodeJS.Timeout | undefined;
  private repairing: Promise<RepairResult> | undefined;

  constructor(options: OrderedQueueOptions) {
    this.options = options;
    this.keys = orderedKeys(options.trigger);
    this.redis = withScripts(options.connection);
  }

  /** The BullMQ queue (stats, dashboard, dead-letter queue): the same one the unordered path uses. */
  get queue(): Queue<EventJobData> {
    return this.options.events.queue;
  }

  /** Resolves once every event is durable in Redis and every new head is a BullMQ job. */
  async enqueue(items: EventJobData[]): Promise<void> {
    const heads: EventJobData[] = [];
    for (let start = 0; start < items.length; start += maxBatch) {
      const chunk = items.slice(start, start + maxBatch);
      const keys = [this.keys.events, this.keys.keys];
      const args: string[] = [];
      const byJobId = new Map<string, EventJobData>();
      for (const item of chunk) {
        const orderingKey = orderingKeyOf(item.event, this.options.ordering.key, this.options.sourceOrderOf);
        const data: EventJobData = { ...item, orderingKey };
        const jobId = toJobId(item.event.id);
        byJobId.set(jobId, data);
        keys.push(jobKey(this.options.trigger, jobId), this.keys.list(orderingKey));
        args.push(jobId, JSON.stringify(data), orderingKey);
      }
      let headIds: string[];
      try {
        headIds = await withTimeout(
          this.redis.thOrderedEnqueue(keys.length, ...keys, ...args),
          redisTimeoutMs,
          `Redis did not answer within ${redisTimeoutMs} ms`,
        );
      } catch (error) {
        throw unavailable(error);
      }
      for (const jobId of headIds) heads.push(byJobId.get(jobId)!);
    }
    await this.options.events.enqueue(heads);
  }

  /** Moves a key on when its head is delivered or dead-lettered by this process's worker. */
  attach(worker: Worker<EventJobData>): void {
    worker.on('completed', (job) => this.afterFinished(job));
    // `failed` fires for every failed attempt; only a job that is finished (dead-lettered) frees its key.
    worker.on('failed', (job) => {
      if (job?.finishedOn) this.afterFinished(job);
    });
  }

  private afterFinished(job: Job<EventJobData>): void {
    const orderingKey = job.data.orderingKey;
    // No ordering key: a job enqueued before ordering was switched on, or a dead letter replayed.
    if (orderingKey === undefined || job.id === undefined) return;
    const work = this.advance(job.id, orderingKey).catch((error: unknown) => {
      this.options.log.warn(
        { err: error, jobId: job.id },
        'could not move the ordering key on; the periodic repair will',
      );
    });
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }

  /** Pops `jobId` if it still heads its key (else nothing) and adds the key's next head. */
  private async advance(jobId: string, orderingKey: string): Promise<void> {
    const next = await withTimeout(
      this.redis.thOrderedAdvance(
        3,
        this.keys.events,
        this.keys.keys,
        this.keys.list(orderingKey),
        jobId,
        orderingKey,
      ),
      redisTimeoutMs,
      `Redis did not answer within ${redisTimeoutMs} ms`,
    );
    if (next) await this.options.events.enqueue([JSON.parse(next) as EventJobData]);
  }

  /** Repairs once now, then every `repairIntervalMs` (errors are logged: the next round tries again). */
  startRepair(): void {
    const run = () => {
      this.repair().catch((error: unknown) =>
        this.options.log.warn({ err: error }, 'ordered-delivery repair failed; retrying at the next round'),
      );
    };
    run();
    this.repairTimer = setInterval(run, this.options.repairIntervalMs ?? defaultRepairIntervalMs);
    this.repairTimer.unref();
  }

  /**
   * Finds keys whose head has no job (added) or a finished one (popped, the next one added). A crash or a
   * Redis error between a script and the add that follows can leave either; nothing else can.
   */
  repair(): Promise<RepairResult> {
    this.repairing ??= this.repairAll().finally(() => {
      this.repairing = undefined;
    });
    return this.repairing;
  }

  private async repairAll(): Promise<RepairResult> {
    const client = this.options.connection;
    const result: RepairResult = { added: 0, advanced: 0 };
    let cursor = '0';
    do {
      const [nextCursor, orderingKeys] = await client.sscan(this.keys.keys, cursor, 'COUNT', 200);
      cursor = nextCursor;
      await Promise.all(
        orderingKeys.map(async (orderingKey) => {
          const list = this.keys.list(orderingKey);
          const head = (await client.lindex(list, 0)) ?? '';
          const [state, payload] = await this.redis.thOrderedInspect(
            4,
            list,
            this.keys.events,
            this.keys.keys,
            jobKey(this.options.trigger, head || 'none'),
            head,
            orderingKey,
          );
          if (state === 'missing' && payload) {
            await this.options.events.enqueue([JSON.parse(payload) as EventJobData]);
            result.added++;
          } else if (state === 'finished' || state === 'orphan') {
            if (state === 'orphan')
              this.options.log.warn(
                { orderingKey, jobId: head },
                'an ordering key headed by an unknown event',
              );
            await this.advance(head, orderingKey);
            result.advanced++;
          }
        }),
      );
    } while (cursor !== '0');
    if (result.added + result.advanced > 0)
      this.options.log.info(result, 'ordered delivery repaired keys left behind by a crash or a Redis error');
    return result;
  }

  /** Stops the repair and waits (a few seconds at most) for keys being moved on; then closes the queue. */
  async close(): Promise<void> {
    clearInterval(this.repairTimer);
    await withTimeout(
      Promise.allSettled([...this.inFlight, ...(this.repairing ? [this.repairing] : [])]),
      redisTimeoutMs,
      'ordered queue close timed out',
    ).catch(() => {});
    await this.options.events.close();
  }
}

/**
 * A trigger whose ordering was switched off may have events still waiting in key FIFOs: they go into the
 * queue as ordinary jobs (already queued heads are no-ops), so switching modes loses nothing.
 */
export async function releaseOrderedBacklog(
  trigger: TriggerRef,
  connection: RedisClient,
  events: EventQueue,
): Promise<number> {
  const keys = orderedKeys(trigger);
  if ((await connection.exists(keys.events, keys.keys)) === 0) return 0;
  let released = 0;
  let cursor = '0';
  do {
    const [nextCursor, flat] = await connection.hscan(keys.events, cursor, 'COUNT', 500);
    cursor = nextCursor;
    const items: EventJobData[] = [];
    const jobIds: string[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      jobIds.push(flat[i]!);
      const { orderingKey: _key, ...data } = JSON.parse(flat[i + 1]!) as EventJobData;
      items.push(data);
    }
    await events.enqueue(items);
    if (jobIds.length > 0) await connection.hdel(keys.events, ...jobIds);
    released += items.length;
  } while (cursor !== '0');
  // The lists only name events of the hash, which are all queued now.
  for (;;) {
    const orderingKeys = await connection.spop(keys.keys, 500);
    if (orderingKeys.length === 0) break;
    await connection.del(...orderingKeys.map((key) => keys.list(key)));
  }
  return released;
}
