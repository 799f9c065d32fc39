// A trigger's backfills in Redis, all under the trigger's hash tag:
//   th:{ns/name}:backfill:<id>        hash: the record (counts, status, the reader's cursor)
//   th:{ns/name}:backfill:<id>:lease  the runner's lease (lease.ts)
//   th:{ns/name}:backfills            sorted set: ids by creation time (the list)
//   th:{ns/name}:backfill-active      the id of the trigger's running backfill (at most one)
// plus one hub-wide set of trigger keys with a running backfill (activeBackfillsKey), which hubs scan to
// resume backfills after a restart.

import { activeBackfillsKey, triggerStateKey } from '../queue/keys.ts';
import type { RedisClient } from '../queue/redis.ts';
import type { BackfillBound, BackfillCursor } from '../sensor/backfill-reader.ts';
import type { BackfillRecord, BackfillStatus } from './backfill.ts';

/** Finished backfills are kept this long for `backfill list`. */
const retainSeconds = 7 * 86_400;
const maxListed = 100;

type Counter = 'read' | 'filtered' | 'enqueued' | 'delivered' | 'deadLettered';

const ref = (trigger: string) => ({ key: trigger });

export function recordKey(trigger: string, id: string): string {
  return triggerStateKey(ref(trigger), 'backfill', id);
}

export function leaseKey(trigger: string, id: string): string {
  return triggerStateKey(ref(trigger), 'backfill', id, 'lease');
}

function listKey(trigger: string): string {
  return triggerStateKey(ref(trigger), 'backfills');
}

function activeKey(trigger: string): string {
  return triggerStateKey(ref(trigger), 'backfill-active');
}

function encodeBound(bound: BackfillBound): string {
  return JSON.stringify('time' in bound ? { time: bound.time.toISOString() } : bound);
}

function decodeBound(text: string | undefined): BackfillBound {
  const value = JSON.parse(text ?? '{}') as { time?: string; position?: string };
  return value.time !== undefined ? { time: new Date(value.time) } : { position: value.position ?? '' };
}

function decode(hash: Record<string, string>): BackfillRecord | undefined {
  if (!hash.id) return undefined;
  const count = (name: string) => Number(hash[name] ?? 0);
  return {
    id: hash.id,
    trigger: hash.trigger!,
    from: decodeBound(hash.from),
    to: decodeBound(hash.to),
    rate: count('rate'),
    dryRun: hash.dryRun === '1',
    status: hash.status as BackfillStatus,
    ...(hash.reason ? { reason: hash.reason } : {}),
    createdAt: hash.createdAt!,
    ...(hash.finishedAt ? { finishedAt: hash.finishedAt } : {}),
    ...(hash.estimate !== undefined ? { estimate: count('estimate') } : {}),
    read: count('read'),
    filtered: count('filtered'),
    enqueued: count('enqueued'),
    delivered: count('delivered'),
    deadLettered: count('deadLettered'),
    readDone: hash.readDone === '1',
    ...(hash.cursor ? { cursor: JSON.parse(hash.cursor) as BackfillCursor } : {}),
  };
}

export class BackfillStore {
  private readonly redis: RedisClient;

  constructor(redis: RedisClient) {
    this.redis = redis;
  }

  /** Stores a new running backfill; false when the trigger already has one running (nothing written). */
  async create(record: BackfillRecord): Promise<boolean> {
    const { trigger, id } = record;
    if ((await this.redis.set(activeKey(trigger), id, 'NX')) !== 'OK') {
      // A pointer left behind by a finished backfill (e.g. cancelled while no hub ran it) does not block.
      const current = await this.redis.get(activeKey(trigger));
      const other = current ? await this.get(trigger, current) : undefined;
      if (other?.status === 'running') return false;
      await this.redis.set(activeKey(trigger), id);
    }
    const fields: Record<string, string> = {
      id,
      trigger,
      from: encodeBound(record.from),
      to: encodeBound(record.to),
      rate: String(record.rate),
      dryRun: record.dryRun ? '1' : '0',
      status: record.status,
      createdAt: record.createdAt,
      read: '0',
      filtered: '0',
      enqueued: '0',
      delivered: '0',
      deadLettered: '0',
      readDone: '0',
      ...(record.estimate === undefined ? {} : { estimate: String(record.estimate) }),
    };
    await this.redis
      .multi()
      .hset(recordKey(trigger, id), fields)
      .zadd(listKey(trigger), Date.parse(record.createdAt), id)
      .exec();
    await this.redis.sadd(activeBackfillsKey, trigger);
    return true;
  }

  async get(trigger: string, id: string): Promise<BackfillRecord | undefined> {
    return decode(await this.redis.hgetall(recordKey(trigger, id)));
  }

  /** Newest first; expired records are dropped from the list as it is read. */
  async status(trigger: string, id: string): Promise<BackfillStatus | undefined> {
    return ((await this.redis.hget(recordKey(trigger, id), 'status')) ?? undefined) as
      | BackfillStatus
      | undefined;
  }

  /** Newest first; expired records are dropped from the list as it is read. */
  async list(trigger: string): Promise<BackfillRecord[]> {
    const ids = await this.redis.zrevrange(listKey(trigger), 0, maxListed - 1);
    const records = await Promise.all(ids.map((id) => this.get(trigger, id)));
    const gone = ids.filter((_, index) => records[index] === undefined);
    if (gone.length > 0) await this.redis.zrem(listKey(trigger), ...gone);
    return records.filter((record) => record !== undefined);
  }

  async activeId(trigger: string): Promise<string | undefined> {
    return (await this.redis.get(activeKey(trigger))) ?? undefined;
  }

  /** Trigger keys with a running backfill (hub-wide). */
  async activeTriggers(): Promise<string[]> {
    return this.redis.smembers(activeBackfillsKey);
  }

  async forgetActiveTrigger(trigger: string): Promise<void> {
    await this.redis.srem(activeBackfillsKey, trigger);
  }

  /**
   * Called only after the batch is durable in the backfill queue: the counts and the resume point move
   * together, in one transaction, so a restart resumes exactly after what was counted.
   */
  async recordBatch(
    trigger: string,
    id: string,
    counts: { read: number; filtered: number; enqueued: number },
    cursor: BackfillCursor,
  ): Promise<void> {
    await this.redis
      .multi()
      .hincrby(recordKey(trigger, id), 'read', counts.read)
      .hincrby(recordKey(trigger, id), 'filtered', counts.filtered)
      .hincrby(recordKey(trigger, id), 'enqueued', counts.enqueued)
      .hset(recordKey(trigger, id), 'cursor', JSON.stringify(cursor))
      .exec();
  }

  async increment(trigger: string, id: string, counter: Counter, by = 1): Promise<void> {
    await this.redis.hincrby(recordKey(trigger, id), counter, by);
  }

  async set(trigger: string, id: string, fields: Record<string, string>): Promise<void> {
    await this.redis.hset(recordKey(trigger, id), fields);
  }

  /**
   * Ends a running backfill (completed, cancelled, failed); false if it had already ended (a cancel that
   * raced the end keeps the first outcome).
   */
  async finish(trigger: string, id: string, status: BackfillStatus, reason?: string): Promise<boolean> {
    const key = recordKey(trigger, id);
    const changed = (await this.redis.eval(
      "if redis.call('hget', KEYS[1], 'status') ~= 'running' then return 0 end " +
        "redis.call('hset', KEYS[1], 'status', ARGV[1], 'finishedAt', ARGV[2], 'reason', ARGV[3]) " +
        "redis.call('expire', KEYS[1], ARGV[4]) " +
        "if redis.call('get', KEYS[2]) == ARGV[5] then redis.call('del', KEYS[2]) end return 1",
      2,
      key,
      activeKey(trigger),
      status,
      new Date().toISOString(),
      reason ?? '',
      retainSeconds,
      id,
    )) as number;
    await this.redis.expire(listKey(trigger), retainSeconds);
    return changed === 1;
  }
}
