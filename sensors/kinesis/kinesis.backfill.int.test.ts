// The Kinesis backfill reader against kinesalite: 2,000 records put across a SplitShard; a time window and a
// position window spanning the reshard read exactly (parent before children, sequence order per shard, the
// live mapping's ids); a resumed read continues from its cursor; the live sensor's checkpoints stay as they were.

import { GetRecordsCommand, GetShardIteratorCommand, SplitShardCommand } from '@aws-sdk/client-kinesis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventInput } from '../../src/envelope/event.ts';
import type { Hub } from '../../src/hub.ts';
import { triggerStateKey } from '../../src/queue/keys.ts';
import type { BackfillReaderOptions } from '../../src/sensor/backfill-reader.ts';
import type { TriggerRef } from '../../src/sensor/sensor.ts';
import { readAll } from '../../test/support/backfill.ts';
import { startTestHub, uniqueNamespace } from '../../test/support/hub.ts';
import { type Sink, startSink } from '../../test/support/sink.ts';
import { waitFor } from '../../test/support/wait.ts';
import { createKinesisBackfillReader } from './backfill.ts';
import { kinesisSensor } from './index.ts';
import { kinesisEventSource, recordToEvent } from './record.ts';
import { kinesisSpec } from './spec.ts';
import {
  createStream,
  deleteStreams,
  kinesisClient,
  kinesisEndpoint,
  kinesisTrigger,
  listShards,
  type Put,
  putRecords,
  sleep,
  testRedis,
  throttlingProxy,
  waitActive,
} from './test-support.ts';

const client = kinesisClient();
const redis = testRedis();
const log = pino({ level: 'silent' });
const ns = uniqueNamespace('kbf');
const stream = ns;
const total = 2000;
let puts: Put[] = [];
let parentId: string;
let childIds: string[];
/** Every record of every shard as the live sensor maps it, per shard in sequence order: the truth. */
let truth: Map<string, EventInput[]>;
let hub: Hub | undefined;
let sink: Sink | undefined;
let checkpointsBefore: Record<string, string>;
const checkpointsKey = () => triggerStateKey({ key: `${ns}/live` }, 'kinesis', stream, 'checkpoints');

function spec(overrides: Record<string, unknown> = {}) {
  return kinesisSpec.parse({
    stream,
    region: 'us-east-1',
    endpoint: kinesisEndpoint(),
    credentials: {
      accessKeyId: { env: 'TH_TEST_AWS_ACCESS_KEY_ID' },
      secretAccessKey: { env: 'TH_TEST_AWS_SECRET_ACCESS_KEY' },
    },
    maxRecordsPerRequest: 100,
    ...overrides,
  });
}

function options(
  from: BackfillReaderOptions['from'],
  to: BackfillReaderOptions['to'],
): BackfillReaderOptions & { trigger: TriggerRef } {
  const trigger = { namespace: ns, name: 'backfill', key: `${ns}/backfill` };
  return { from, to, signal: new AbortController().signal, log, trigger };
}

const arrival = (event: EventInput) => Date.parse(event.time!);
const shardOf = (event: EventInput) => event.subject!;
const allTruth = () => [...truth.values()].flat();
const eventById = () => new Map(allTruth().map((event) => [event.id, event]));

/** Groups events by shard, keeping their order: what "in order per shard" is checked on. */
function perShard(events: EventInput[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const event of events) {
    const ids = out[shardOf(event)] ?? [];
    ids.push(event.id);
    out[shardOf(event)] = ids;
  }
  return out;
}

/** The parent's records all come before the first record of either child. */
function expectParentFirst(events: EventInput[]): void {
  const lastParent = events.findLastIndex((event) => shardOf(event) === parentId);
  const firstChild = events.findIndex((event) => childIds.includes(shardOf(event)));
  if (lastParent >= 0 && firstChild >= 0) expect(lastParent).toBeLessThan(firstChild);
}

/** Reads a shard from TRIM_HORIZON to its end (or tip) with plain SDK calls, mapped like the live sensor. */
async function readShard(shardId: string): Promise<EventInput[]> {
  let { ShardIterator: iterator } = await client.send(
    new GetShardIteratorCommand({ StreamName: stream, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }),
  );
  const events: EventInput[] = [];
  while (iterator) {
    const output = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
    const records = output.Records ?? [];
    for (const record of records)
      events.push(
        recordToEvent(record, shardId, { source: kinesisEventSource(spec()), type: spec().eventType }),
      );
    if (records.length === 0) break;
    iterator = output.NextShardIterator;
  }
  return events;
}

beforeAll(async () => {
  await createStream(client, stream, 2);
  const put = async (count: number) => {
    for (let i = 0; i < count; i += 100) {
      puts.push(...(await putRecords(client, stream, puts.length, 100, { keys: 50 })));
      await sleep(20); // spread over time, so a time window cuts through the stream
    }
  };
  await put(1000);
  const [shard0] = await listShards(client, stream);
  parentId = shard0!.ShardId!;
  const start = BigInt(shard0!.HashKeyRange!.StartingHashKey!);
  const end = BigInt(shard0!.HashKeyRange!.EndingHashKey!);
  await client.send(
    new SplitShardCommand({
      StreamName: stream,
      ShardToSplit: parentId,
      NewStartingHashKey: String((start + end) / 2n),
    }),
  );
  await put(200);
  await waitActive(client, stream);
  // kinesalite stamps a new shard's first records with its creation time, 1 s after the split: let the
  // clock pass it, so the children's records carry distinct arrival times too.
  await sleep(1200);
  await put(total - 1200);
  puts = puts.slice(0, total);
  const shards = await listShards(client, stream);
  childIds = shards.filter((shard) => shard.ParentShardId === parentId).map((shard) => shard.ShardId!);
  truth = new Map();
  for (const shard of shards) truth.set(shard.ShardId!, await readShard(shard.ShardId!));

  // The trigger's live sensor reads the whole stream and checkpoints every shard.
  sink = await startSink();
  hub = await startTestHub([kinesisTrigger(ns, 'live', { stream, sinkUrl: sink.url })]);
  const last = Object.fromEntries(
    [...truth].map(([shardId, events]) => [
      shardId,
      shardId === parentId ? 'SHARD_END' : (events.at(-1)!.sequence as string),
    ]),
  );
  await waitFor(
    async () =>
      JSON.stringify(sortKeys(await redis.hgetall(checkpointsKey()))) === JSON.stringify(sortKeys(last)),
    120_000,
    'the live sensor checkpointed every shard',
  ).catch(async (error) => {
    throw new Error(`${error.message}: ${JSON.stringify(await redis.hgetall(checkpointsKey()))}`);
  });
  checkpointsBefore = await redis.hgetall(checkpointsKey());
}, 300_000);

function sortKeys(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)));
}

afterAll(async () => {
  await hub?.close();
  await sink?.close();
  await deleteStreams(kinesisClient());
  redis.disconnect();
  client.destroy();
});

describe('Kinesis backfill reader', () => {
  it('the fixture: 2,000 records across a split, on the parent, both children and the untouched shard', () => {
    expect(allTruth()).toHaveLength(total);
    expect(new Set(allTruth().map((event) => event.id))).toEqual(new Set(puts.map((p) => p.id)));
    expect(truth.size).toBe(4);
    for (const events of truth.values()) expect(events.length).toBeGreaterThan(50);
  });

  it('a time window spanning the reshard: exactly the records that arrived in [from, to), parent before children', async () => {
    const byId = eventById();
    const lowerChild = truth.get(childIds[0]!)!;
    const from = arrival(byId.get(puts[400]!.id)!);
    const to = arrival(lowerChild[Math.floor(lowerChild.length / 2)]!);
    const expected = allTruth().filter((event) => arrival(event) >= from && arrival(event) < to);
    expect(expected.length).toBeGreaterThan(900);
    expect(new Set(expected.map(shardOf))).toEqual(new Set(truth.keys()));
    const reader = createKinesisBackfillReader(
      spec(),
      options({ time: new Date(from) }, { time: new Date(to) }),
    );
    expect(await reader.estimate()).toBeUndefined();
    const events = (await readAll(reader)).flatMap((batch) => batch.events);
    expect(perShard(events)).toEqual(perShard(expected));
    expect(events).toHaveLength(expected.length);
    // Same mapping as the live sensor, attribute for attribute.
    const byIdExpected = new Map(expected.map((event) => [event.id, event]));
    for (const event of events) expect(event).toEqual(byIdExpected.get(event.id));
    expect(new Set(events.map(shardOf))).toEqual(new Set(truth.keys()));
    expectParentFirst(events);
  }, 120_000);

  it('a position window: from names the original shards, to names one of them and one child', async () => {
    const parent = truth.get(parentId)!;
    const otherId = [...truth.keys()].find((id) => id !== parentId && !childIds.includes(id))!;
    const other = truth.get(otherId)!;
    const [lowerChild, upperChild] = childIds.map((id) => truth.get(id)!);
    const from = `${parentId}:${parent[150]!.sequence},${otherId}:${other[100]!.sequence}`;
    const to = `${otherId}:${other[700]!.sequence},${childIds[0]}:${lowerChild![60]!.sequence}`;
    const expected = [
      ...parent.slice(150), // to its end: not named in `to`
      ...other.slice(100, 700),
      ...lowerChild!.slice(0, 60), // a descendant of a `from` shard: from its first record
      ...upperChild!, // not named in `to`: to the tip
    ];
    const events = (
      await readAll(createKinesisBackfillReader(spec(), options({ position: from }, { position: to })))
    ).flatMap((batch) => batch.events);
    expect(perShard(events)).toEqual(perShard(expected));
    expectParentFirst(events);
  }, 120_000);

  it('resumes from the last cursor of an interrupted read: the rest comes, no overlap, no gap', async () => {
    const byId = eventById();
    const window = options(
      { time: new Date(arrival(byId.get(puts[100]!.id)!)) },
      { time: new Date(arrival(byId.get(puts[1900]!.id)!)) },
    );
    const first = await readAll(createKinesisBackfillReader(spec(), window), 6);
    expect(first).toHaveLength(6);
    const cursor = first.at(-1)!.cursor;
    const rest = await readAll(createKinesisBackfillReader(spec(), { ...window, cursor }));
    const whole = await readAll(createKinesisBackfillReader(spec(), window));
    const resumed = [...first, ...rest].flatMap((batch) => batch.events);
    expect(rest.length).toBeGreaterThan(0);
    expect(perShard(resumed)).toEqual(perShard(whole.flatMap((batch) => batch.events)));
    expect(new Set(resumed.map((event) => event.id)).size).toBe(resumed.length);
  }, 120_000);

  it('a window after the split: the closed parent has nothing in it (kinesalite would hang on AT_TIMESTAMP)', async () => {
    const from = arrival(eventById().get(puts[1700]!.id)!);
    const expected = allTruth().filter((event) => arrival(event) >= from);
    const events = (
      await readAll(
        createKinesisBackfillReader(spec(), options({ time: new Date(from) }, { time: new Date() })),
      )
    ).flatMap((batch) => batch.events);
    expect(perShard(events)).toEqual(perShard(expected));
    expect(events.some((event) => shardOf(event) === parentId)).toBe(false);
  }, 120_000);

  it('throttled (every other GetRecords refused): backs off and still reads the window exactly', async () => {
    const proxy = await throttlingProxy(kinesisEndpoint());
    try {
      const from = arrival(eventById().get(puts[1000]!.id)!);
      const to = arrival(eventById().get(puts[1400]!.id)!);
      const expected = allTruth().filter((event) => arrival(event) >= from && arrival(event) < to);
      const events = (
        await readAll(
          createKinesisBackfillReader(
            spec({ endpoint: proxy.url }),
            options({ time: new Date(from) }, { time: new Date(to) }),
          ),
        )
      ).flatMap((batch) => batch.events);
      expect(perShard(events)).toEqual(perShard(expected));
      expect(proxy.throttled()).toBeGreaterThan(3);
    } finally {
      proxy.server.closeAllConnections();
      await new Promise((resolve) => proxy.server.close(resolve));
    }
  }, 120_000);

  it("never touches the live sensor's checkpoints", async () => {
    expect(await redis.hgetall(checkpointsKey())).toEqual(checkpointsBefore);
  });

  it('bad input: a clear error naming the field', async () => {
    const at = (ms: number) => ({ time: new Date(ms) });
    const make = (from: BackfillReaderOptions['from'], to: BackfillReaderOptions['to'], overrides = {}) =>
      createKinesisBackfillReader(spec(overrides), options(from, to));
    expect(() => make(at(2000), at(1000))).toThrow(/^from: .* is after to: /);
    expect(() => make({ position: 'shardId-000000000000' }, at(1000))).toThrow(
      /^from: "shardId-000000000000" is not a Kinesis position/,
    );
    expect(() => make(at(1000), { position: 'shardId-000000000001:12,shardId-000000000001:13' })).toThrow(
      /^to: .* is not a Kinesis position/,
    );
    expect(() =>
      make({ position: 'shardId-000000000001:20' }, { position: 'shardId-000000000001:10' }),
    ).toThrow(/^from: shardId-000000000001:20 is after to: shardId-000000000001:10/);
    await expect(readAll(make({ position: 'shardId-000000000042:1' }, at(Date.now())))).rejects.toThrow(
      /^from: shardId-000000000042 is not a shard of stream/,
    );
    await expect(readAll(make(at(1000), at(Date.now()), { stream: `${ns}-missing` }))).rejects.toThrow(
      /^spec.source.kinesis.stream: no stream/,
    );
  }, 60_000);

  it('is the reader the kinesis sensor registers for backfills', async () => {
    expect(await kinesisSensor.backfill!()).toBe(createKinesisBackfillReader);
  });
});
