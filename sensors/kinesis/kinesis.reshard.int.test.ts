import { MergeShardsCommand, SplitShardCommand } from '@aws-sdk/client-kinesis';
import { afterEach, describe, expect, it } from 'vitest';
import type { Hub } from '../../src/hub.ts';
import { startTestHub, uniqueNamespace } from '../../test/support/hub.ts';
import { type Sink, startSink } from '../../test/support/sink.ts';
import {
  createStream,
  deleteStreams,
  kinesisClient,
  kinesisTrigger,
  listShards,
  type Put,
  putRecords,
  sleep,
  waitActive,
} from './test-support.ts';

describe('kinesis sensor and resharding', () => {
  const client = kinesisClient();
  let hub: Hub | undefined;
  let sink: Sink | undefined;

  afterEach(async () => {
    await hub?.close();
    await sink?.close();
    await deleteStreams(kinesisClient());
    hub = undefined;
    sink = undefined;
  });

  it('a split and a merge while records flow: every record delivered, parents before children, per-key order kept', async () => {
    const ns = uniqueNamespace('kin');
    await createStream(client, ns, 2);
    sink = await startSink();
    // One delivery at a time: the order the sink sees is the order the records were enqueued in. Small
    // reads (20 records, 5 a second per shard) let a backlog build up, so parents still hold unread records
    // when their children appear.
    hub = await startTestHub([
      kinesisTrigger(ns, 'reshard', {
        stream: ns,
        sinkUrl: sink.url,
        source: { maxRecordsPerRequest: 20 },
        delivery: { concurrency: 1 },
      }),
    ]);
    const puts: Put[] = [];
    let next = 0;
    const put = async (count: number) => {
      puts.push(...(await putRecords(client, ns, next, count, { keys: 40 })));
      next += count;
    };
    const flow = async (batches: number) => {
      for (let i = 0; i < batches; i++) {
        await put(25);
        await sleep(30);
      }
    };

    await flow(10);
    const [shard0, shard1] = await listShards(client, ns);
    const start = BigInt(shard0!.HashKeyRange!.StartingHashKey!);
    const end = BigInt(shard0!.HashKeyRange!.EndingHashKey!);
    await client.send(
      new SplitShardCommand({
        StreamName: ns,
        ShardToSplit: shard0!.ShardId!,
        NewStartingHashKey: String((start + end) / 2n),
      }),
    );
    await flow(5);
    await waitActive(client, ns);
    await flow(10);
    // The upper child of the split and the old second shard are adjacent: merge them.
    const afterSplit = await listShards(client, ns);
    const upperChild = afterSplit.find(
      (shard) => shard.ParentShardId === shard0!.ShardId && shard.HashKeyRange!.EndingHashKey === String(end),
    )!;
    await client.send(
      new MergeShardsCommand({
        StreamName: ns,
        ShardToMerge: upperChild.ShardId!,
        AdjacentShardToMerge: shard1!.ShardId!,
      }),
    );
    await flow(5);
    await waitActive(client, ns);
    await flow(10);

    const shards = await listShards(client, ns);
    expect(shards.length).toBe(5);
    const total = puts.length;
    await sink.waitFor(() => sink!.delivered.size >= total, 300_000, `${total} deliveries`);
    await sleep(500);

    expect([...sink.delivered].sort()).toEqual(puts.map((p) => p.id).sort());
    // Every shard of the stream's history received records.
    expect(new Set(puts.map((p) => p.shardId)).size).toBe(5);

    const byId = new Map(puts.map((p) => [p.id, p]));
    const order = sink.received.map((received) => byId.get(received.id!)!);
    const firstAt = new Map<string, number>();
    const lastAt = new Map<string, number>();
    order.forEach((p, position) => {
      if (!firstAt.has(p.shardId)) firstAt.set(p.shardId, position);
      lastAt.set(p.shardId, position);
    });
    for (const shard of shards) {
      for (const parent of [shard.ParentShardId, shard.AdjacentParentShardId]) {
        if (parent === undefined || !lastAt.has(parent) || !firstAt.has(shard.ShardId!)) continue;
        expect(lastAt.get(parent), `${parent} finished before ${shard.ShardId} started`).toBeLessThan(
          firstAt.get(shard.ShardId!)!,
        );
      }
    }
    // Within a shard, sequence order; per partition key, put order, across the reshard.
    const lastSequence = new Map<string, bigint>();
    const lastIndex = new Map<string, number>();
    for (const p of order) {
      expect(BigInt(p.sequence) > (lastSequence.get(p.shardId) ?? -1n)).toBe(true);
      lastSequence.set(p.shardId, BigInt(p.sequence));
      expect(p.index > (lastIndex.get(p.partitionKey) ?? -1)).toBe(true);
      lastIndex.set(p.partitionKey, p.index);
    }
  }, 600_000);
});
