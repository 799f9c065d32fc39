import { afterEach, describe, expect, it } from 'vitest';
import type { Hub } from '../../src/hub.ts';
import { startTestHub, uniqueNamespace } from '../../test/support/hub.ts';
import { type Sink, startSink } from '../../test/support/sink.ts';
import { waitFor } from '../../test/support/wait.ts';
import {
  createStream,
  deleteStreams,
  kinesisClient,
  kinesisTrigger,
  leaseOwners,
  listShards,
  putRecords,
  sleep,
  testRedis,
} from './test-support.ts';

// 5,000 keeps the suite quick on 2 cores; TH_KINESIS_RECORDS=20000 runs the full figure.
const recordCount = Number(process.env.TH_KINESIS_RECORDS ?? 5000);

describe('kinesis sensor', () => {
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

  it(`delivers every record of a 4-shard stream exactly once (${recordCount} records)`, async () => {
    const ns = uniqueNamespace('kin');
    await createStream(client, ns, 4);
    sink = await startSink();
    hub = await startTestHub([kinesisTrigger(ns, 'records', { stream: ns, sinkUrl: sink.url })]);
    const started = Date.now();
    const puts = await putRecords(client, ns, 0, recordCount);
    await sink.waitFor(() => sink!.delivered.size >= recordCount, 400_000, `${recordCount} deliveries`);
    const seconds = (Date.now() - started) / 1000;
    console.log(
      `kinesis: ${recordCount} records in ${seconds.toFixed(1)} s (${Math.round(recordCount / seconds)}/s)`,
    );

    expect(new Set(puts.map((put) => put.shardId)).size).toBe(4);
    expect([...sink.delivered].sort()).toEqual(puts.map((put) => put.id).sort());
    await sleep(500);
    const repeated = [...sink.counts.values()].filter((count) => count > 1).length;
    expect(repeated).toBe(0);
  }, 600_000);

  it('turns a record into a CloudEvent: JSON data, partition key, sequence number, arrival time', async () => {
    const ns = uniqueNamespace('kin');
    await createStream(client, ns, 1);
    sink = await startSink();
    hub = await startTestHub([kinesisTrigger(ns, 'mapping', { stream: ns, sinkUrl: sink.url })]);
    const binary = Buffer.from([0x00, 0xff, 0x10, 0x80]);
    const aggregated = Buffer.from([0xf3, 0x89, 0x9a, 0xc2, 0x0a, 0x01, 0x61]);
    const payloads = [Buffer.from('{"order":42,"note":"été"}'), binary, aggregated];
    const puts = await putRecords(client, ns, 0, 3, { data: (i) => payloads[i]!, keys: 3 });
    await sink.waitFor(() => sink!.delivered.size >= 3, 60_000, '3 deliveries');
    const byId = new Map(sink.received.map((received) => [received.id, received]));

    const json = byId.get(puts[0]!.id)!;
    expect(JSON.parse(json.body.toString('utf8'))).toEqual({ order: 42, note: 'été' });
    expect(json.headers['content-type']).toMatch(/^application\/json/);
    expect(json.headers['ce-partitionkey']).toBe('key-0');
    expect(json.headers['ce-sequence']).toBe(puts[0]!.sequence);
    expect(json.headers['ce-subject']).toBe('shardId-000000000000');
    expect(json.headers['ce-type']).toBe('io.triggerhub.kinesis.record');
    expect(new Date(String(json.headers['ce-arrivaltime'])).getTime()).toBeGreaterThan(Date.now() - 120_000);

    const bytes = byId.get(puts[1]!.id)!;
    expect(bytes.body).toEqual(binary);
    expect(bytes.headers['content-type']).toBe('application/octet-stream');

    const kpl = byId.get(puts[2]!.id)!;
    expect(kpl.body).toEqual(aggregated);
    expect(kpl.headers['ce-kplaggregated']).toBe('true');
  });

  it('with LATEST reads only records put after the trigger first started', async () => {
    const ns = uniqueNamespace('kin');
    await createStream(client, ns, 2);
    const before = await putRecords(client, ns, 0, 20);
    sink = await startSink();
    hub = await startTestHub([
      kinesisTrigger(ns, 'latest', { stream: ns, sinkUrl: sink.url, source: { startingPosition: 'LATEST' } }),
    ]);
    // Both shards have a reader once their leases are taken; give their LATEST iterators a moment more.
    const shardIds = (await listShards(client, ns)).map((shard) => shard.ShardId!);
    const redis = testRedis();
    try {
      await waitFor(
        async () => [...(await leaseOwners(redis, `${ns}/latest`, ns, shardIds)).values()].every(Boolean),
        30_000,
        'both shard leases taken',
      );
    } finally {
      redis.disconnect();
    }
    await sleep(1000);
    const after = await putRecords(client, ns, 100, 20);
    await sink.waitFor(() => sink!.delivered.size >= 20, 60_000, '20 deliveries');
    await sleep(1000);
    expect([...sink.delivered].sort()).toEqual(after.map((put) => put.id).sort());
    expect(before.some((put) => sink!.delivered.has(put.id))).toBe(false);
  });
  it('with AT_TIMESTAMP reads only records that arrived at or after the timestamp', async () => {
    const ns = uniqueNamespace('kin');
    await createStream(client, ns, 1);
    const before = await putRecords(client, ns, 0, 10);
    await sleep(1500);
    const startTimestamp = new Date().toISOString();
    await sleep(1500);
    const after = await putRecords(client, ns, 100, 10);
    sink = await startSink();
    hub = await startTestHub([
      kinesisTrigger(ns, 'timestamp', {
        stream: ns,
        sinkUrl: sink.url,
        source: { startingPosition: 'AT_TIMESTAMP', startTimestamp },
      }),
    ]);
    await sink.waitFor(() => sink!.delivered.size >= 10, 120_000, '10 deliveries');
    await sleep(1000);
    expect([...sink.delivered].sort()).toEqual(after.map((put) => put.id).sort());
    expect(before.some((put) => sink!.delivered.has(put.id))).toBe(false);
  }, 300_000);
});
