// Which shards may be read now, and how many of them this worker should hold. Pure functions, so the
// parent-before-child rule and the balancing arithmetic are unit-tested apart from Kinesis and Redis.

import { shardEnd } from './leases.ts';

export interface ShardInfo {
  shardId: string;
  parentShardId?: string;
  adjacentParentShardId?: string;
}

/**
 * Shards that are not finished and whose parents are finished (or no longer listed: trimmed after the
 * retention period, so nothing of them can still be read). A child of a split or a merge thus starts
 * only after every record of its parents was enqueued, which keeps per-partition-key order across a reshard.
 */
export function readableShards(shards: ShardInfo[], checkpoints: Record<string, string>): ShardInfo[] {
  const listed = new Set(shards.map((shard) => shard.shardId));
  const finished = (id: string | undefined) =>
    id === undefined || !listed.has(id) || checkpoints[id] === shardEnd;
  return shards.filter(
    (shard) =>
      checkpoints[shard.shardId] !== shardEnd &&
      finished(shard.parentShardId) &&
      finished(shard.adjacentParentShardId),
  );
}

/**
 * This worker's fair share: the readable shards spread evenly over the live workers, the first
 * `count % workers` of them (in sorted order) taking one more. Every worker computes the same split from
 * the same heartbeat set, so they converge without talking to each other.
 */
export function fairShare(readable: number, workers: string[], self: string): number {
  const sorted = [...new Set([...workers, self])].sort();
  const rank = sorted.indexOf(self);
  const base = Math.floor(readable / sorted.length);
  return base + (rank < readable % sorted.length ? 1 : 0);
}

/** Checkpointed shards the stream no longer lists: their entries can be dropped. */
export function forgottenShards(shards: ShardInfo[], checkpoints: Record<string, string>): string[] {
  const listed = new Set(shards.map((shard) => shard.shardId));
  return Object.keys(checkpoints).filter((id) => !listed.has(id));
}
