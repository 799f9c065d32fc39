import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keyPrefix, queueName } from '../../src/queue/keys.ts';
import {
  freePort,
  type HubProcess,
  spawnHub,
  uniqueNamespace,
  writeTriggerDir,
} from '../../test/support/hub.ts';
import { type Sink, startSink } from '../../test/support/sink.ts';
import { waitFor } from '../../test/support/wait.ts';
import {
  createStream,
  deleteStreams,
  kinesisClient,
  kinesisTrigger,
  leaseOwners,
  listShards,
  type Put,
  putRecords,
  sleep,
  testRedis,
} from './test-support.ts';

const concurrency = 8;

/** Puts `total` records in batches of 50, about 20 batches a second, while the hubs run. */
function produce(stream: string, total: number): { puts: Put[]; done: Promise<void> } {
  const client = kinesisClient();
  const puts: Put[] = [];
  const done = (async () => {
    for (let from = 0; from < total; from += 50) {
      puts.push(...(await putRecords(client, stream, from, Math.min(50, total - from))));
      await sleep(50);
    }
  })();
  return { puts, done };
}

async function queueTotal(trigger: string, redis: Redis): Promise<number> {
  const queue = new Queue(queueName({ key: trigger }), { connection: redis, prefix: keyPrefix });
  try {
    const counts = await queue.getJobCounts(
      'completed',
      'failed',
      'wait',
      'active',
      'delayed',
      'prioritized',
    );
    return Object.values(counts).reduce((sum, count) => sum + count, 0);
  } finally {
    await queue.close();
  }
}

/** Ids the sink saw more than once: only deliveries in flight when a hub was killed may repeat. */
function repeats(sink: Sink): number {
  return [...sink.counts.values()].filter((count) => count > 1).length;
}

describe('kinesis sensor across hub processes', () => {
  const client = kinesisClient();
  const hubs: HubProcess[] = [];
  let sink: Sink | undefined;
  let redis: Redis;

  beforeEach(() => {
    redis = testRedis();
  });

  afterEach(async () => {
    for (const hub of hubs.splice(0)) {
      if (hub.child.exitCode === null && hub.child.signalCode === null) {
        hub.child.kill('SIGKILL');
        await hub.exited;
      }
    }
    await sink?.close();
    sink = undefined;
    redis.disconnect();
    await deleteStreams(client);
  });

  it('a SIGKILLed hub loses no record and enqueues none twice when restarted', async () => {
    const ns = uniqueNamespace('kin');
    const total = 2000;
    await createStream(client, ns, 4);
    sink = await startSink();
    const dir = writeTriggerDir([
      kinesisTrigger(ns, 'crash', { stream: ns, sinkUrl: sink.url, delivery: { concurrency } }),
    ]);
    const first = await spawnHub(dir, await freePort());
    hubs.push(first);
    const producer = produce(ns, total);
    await sink.waitFor(() => sink!.delivered.size >= 400, 240_000, '400 deliveries before the kill');
    first.child.kill('SIGKILL');
    await first.exited;
    const deliveredAtKill = sink.delivered.size;

    const second = await spawnHub(dir, await freePort());
    hubs.push(second);
    await producer.done;
    await sink.waitFor(() => sink!.delivered.size >= total, 300_000, `${total} deliveries`);
    await sleep(1000);

    expect(deliveredAtKill).toBeLessThan(total);
    expect([...sink.delivered].sort()).toEqual(producer.puts.map((put) => put.id).sort());
    expect(await queueTotal(`${ns}/crash`, redis)).toBe(total);
    expect(repeats(sink)).toBeLessThanOrEqual(concurrency);
    // The restarted hub resumed from checkpoints rather than from the start of the shards.
    expect(second.output()).toContain('"iterator":"AFTER_SEQUENCE_NUMBER"');
  }, 600_000);

  it('two hub processes split the shards when the second joins; when one is killed the other takes its shards over', async () => {
    const ns = uniqueNamespace('kin');
    const total = 2000;
    await createStream(client, ns, 4);
    const shardIds = (await listShards(client, ns)).map((shard) => shard.ShardId!);
    sink = await startSink();
    const trigger = `${ns}/shared`;
    const dir = writeTriggerDir([
      kinesisTrigger(ns, 'shared', { stream: ns, sinkUrl: sink.url, delivery: { concurrency } }),
    ]);
    const pidOf = (owner: string | null) => owner?.split('/')[1];
    const a = await spawnHub(dir, await freePort());
    hubs.push(a);
    // Alone, the first hub takes every shard.
    await waitFor(
      async () =>
        [...(await leaseOwners(redis, trigger, ns, shardIds)).values()].every(
          (owner) => pidOf(owner) === String(a.child.pid),
        ),
      120_000,
      'the first hub holding all four shards',
    );
    const b = await spawnHub(dir, await freePort());
    hubs.push(b);

    // A second replica joins: the first gives back half, two shards each.
    await waitFor(
      async () => {
        const owners = [...(await leaseOwners(redis, trigger, ns, shardIds)).values()].map(pidOf);
        const pids = [String(a.child.pid), String(b.child.pid)];
        return pids.every((pid) => owners.filter((owner) => owner === pid).length === 2);
      },
      120_000,
      'the shards split two and two between the hubs',
    );

    const producer = produce(ns, total);
    await sink.waitFor(() => sink!.delivered.size >= 400, 240_000, '400 deliveries before the kill');
    a.child.kill('SIGKILL');
    await a.exited;
    const killedAt = Date.now();
    await waitFor(
      async () =>
        [...(await leaseOwners(redis, trigger, ns, shardIds)).values()].every(
          (owner) => pidOf(owner) === String(b.child.pid),
        ),
      120_000,
      'the surviving hub holding all four shards',
    );
    console.log(`kinesis: shards taken over ${Date.now() - killedAt} ms after the SIGKILL (lease 3000 ms)`);

    await producer.done;
    await sink.waitFor(() => sink!.delivered.size >= total, 300_000, `${total} deliveries`);
    await sleep(1000);
    expect([...sink.delivered].sort()).toEqual(producer.puts.map((put) => put.id).sort());
    expect(await queueTotal(trigger, redis)).toBe(total);
    expect(repeats(sink)).toBeLessThanOrEqual(concurrency);
  }, 600_000);
});
