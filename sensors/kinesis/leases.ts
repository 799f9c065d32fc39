// The sensor's state in Redis, like the Kinesis Client Library's lease table but on the hub's Redis:
//   <stream>:lease:<shardId>  string: the owning worker's id, with a PX expiry (SET NX PX to take, Lua to renew)
//   <stream>:checkpoints      hash: shardId → last sequence number durably enqueued, or SHARD_END
//   <stream>:workers          zset: worker id → last heartbeat (ms); the live ones share the shards
//   <stream>:started          the first start time of the trigger (what LATEST means, see spec.ts)
// All keys come from `state.key`, so they share the trigger's hash tag (one Redis Cluster slot, and Lua
// scripts may touch several of them).

// Renew and release only a lease we still hold (token-checked): a plain PEXPIRE or DEL would touch a lease
// another worker took over.
import { releaseLeaseScript, renewLeaseScript } from '../../src/queue/lease.ts';
import type { SensorState } from '../../src/sensor/sensor.ts';

export const shardEnd = 'SHARD_END';

// A checkpoint is written only by the lease holder: a worker that lost its lease (paused, partitioned)
// must not move a shard's checkpoint under the worker that took it over.
const checkpointScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
  return 1
end
return 0`;

export class ShardLeases {
  private readonly state: SensorState;
  readonly workerId: string;
  private readonly leaseMs: number;
  private readonly base: string[];

  constructor(state: SensorState, stream: string, workerId: string, leaseMs: number) {
    this.state = state;
    this.workerId = workerId;
    this.leaseMs = leaseMs;
    this.base = ['kinesis', stream];
  }

  private key(...parts: string[]): string {
    return this.state.key(...this.base, ...parts);
  }

  leaseKey(shardId: string): string {
    return this.key('lease', shardId);
  }

  /** Records this worker's heartbeat; returns the live workers (sorted), this one included. */
  async heartbeat(now = Date.now()): Promise<string[]> {
    const key = this.key('workers');
    const results = await this.state.redis
      .multi()
      .zadd(key, String(now), this.workerId)
      .zremrangebyscore(key, '-inf', String(now - this.leaseMs))
      .pexpire(key, String(this.leaseMs * 10))
      .zrange(key, 0, '-1')
      .exec();
    const members = results?.[3]?.[1];
    if (!Array.isArray(members)) throw new Error('heartbeat: unexpected reply from Redis');
    return (members as string[]).sort();
  }

  async leave(): Promise<void> {
    await this.state.redis.zrem(this.key('workers'), this.workerId);
  }

  async acquire(shardId: string): Promise<boolean> {
    return (
      (await this.state.redis.set(this.leaseKey(shardId), this.workerId, 'PX', this.leaseMs, 'NX')) === 'OK'
    );
  }

  async renew(shardId: string): Promise<boolean> {
    return (
      (await this.state.redis.eval(
        renewLeaseScript,
        1,
        this.leaseKey(shardId),
        this.workerId,
        this.leaseMs,
      )) === 1
    );
  }

  async release(shardId: string): Promise<void> {
    await this.state.redis.eval(releaseLeaseScript, 1, this.leaseKey(shardId), this.workerId);
  }

  /** The owners of the given shards' leases (undefined: free). */
  async owners(shardIds: string[]): Promise<Map<string, string | undefined>> {
    if (shardIds.length === 0) return new Map();
    const values = await this.state.redis.mget(...shardIds.map((id) => this.leaseKey(id)));
    return new Map(shardIds.map((id, index) => [id, values[index] ?? undefined]));
  }

  /** Writes the shard's checkpoint if this worker still holds its lease; false when it does not. */
  async checkpoint(shardId: string, sequence: string): Promise<boolean> {
    const result = await this.state.redis.eval(
      checkpointScript,
      2,
      this.leaseKey(shardId),
      this.key('checkpoints'),
      this.workerId,
      shardId,
      sequence,
    );
    return result === 1;
  }

  async checkpoints(): Promise<Record<string, string>> {
    return this.state.redis.hgetall(this.key('checkpoints'));
  }

  /** Marks shards finished unless they already have a checkpoint. */
  async markFinished(shardIds: string[]): Promise<void> {
    const key = this.key('checkpoints');
    const pipeline = this.state.redis.pipeline();
    for (const id of shardIds) pipeline.hsetnx(key, id, shardEnd);
    await pipeline.exec();
  }

  /** Forgets checkpoints of shards the stream no longer lists (trimmed after the retention period). */
  async forget(shardIds: string[]): Promise<void> {
    if (shardIds.length > 0) await this.state.redis.hdel(this.key('checkpoints'), ...shardIds);
  }

  /** The trigger's first start time (ms), or undefined before it first started. */
  async started(): Promise<number | undefined> {
    const value = await this.state.redis.get(this.key('started'));
    return value === null ? undefined : Number(value);
  }

  /** Records the first start unless another worker got there first; returns the time that stands. */
  async markStarted(now = Date.now()): Promise<number> {
    const key = this.key('started');
    await this.state.redis.set(key, String(now), 'NX');
    return Number(await this.state.redis.get(key));
  }
}
