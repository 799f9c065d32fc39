import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { shardEnd } from './leases.ts';
import { type KinesisRecord, recordToEvent } from './record.ts';
import { fairShare, forgottenShards, readableShards } from './shards.ts';
import { kinesisSpec, parseStream } from './spec.ts';

const options = { source: '/triggerhub/kinesis/orders', type: 'io.triggerhub.kinesis.record' };

interface FixtureRecord {
  SequenceNumber: string;
  /** Epoch seconds, as on the wire. */
  ApproximateArrivalTimestamp: number;
  Data: string;
  PartitionKey: string;
}

/** GetRecords answers recorded from kinesalite (Data base64, as on the wire). */
function fixture(name: string): { shardId: string; records: KinesisRecord[] } {
  const raw = JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')) as {
    shardId: string;
    response: { Records: FixtureRecord[] };
  };
  return {
    shardId: raw.shardId,
    records: raw.response.Records.map((record) => ({
      SequenceNumber: record.SequenceNumber,
      ApproximateArrivalTimestamp: new Date(record.ApproximateArrivalTimestamp * 1000),
      Data: Buffer.from(record.Data, 'base64'),
      PartitionKey: record.PartitionKey,
    })),
  };
}

describe('kinesis record → CloudEvent', () => {
  const { shardId, records } = fixture('get-records.json');

  it('keeps the id, partition key, sequence number and arrival time of a JSON record', () => {
    const record = records[0]!;
    const event = recordToEvent(record, shardId, options);
    expect(event.id).toBe(`kinesis/${shardId}/${record.SequenceNumber}`);
    expect(event.partitionkey).toBe(record.PartitionKey);
    expect(event.sequence).toBe(record.SequenceNumber);
    expect(event.arrivaltime).toBe(record.ApproximateArrivalTimestamp!.toISOString());
    expect(event.time).toBe(event.arrivaltime);
    expect(event.subject).toBe(shardId);
    expect(event.datacontenttype).toBe('application/json');
    expect(event.data).toEqual(JSON.parse(Buffer.from(record.Data!).toString('utf8')));
    expect(event.data_base64).toBeUndefined();
  });

  it('passes bytes that are not UTF-8 JSON as data_base64', () => {
    for (const record of records.slice(1)) {
      const event = recordToEvent(record, shardId, options);
      expect(event.data).toBeUndefined();
      expect(event.datacontenttype).toBe('application/octet-stream');
      expect(Buffer.from(event.data_base64 as string, 'base64')).toEqual(Buffer.from(record.Data!));
    }
  });

  it('delivers a KPL-aggregated record whole and flags it', () => {
    const data = Buffer.from([0xf3, 0x89, 0x9a, 0xc2, 0x7b, 0x7d]);
    const event = recordToEvent({ SequenceNumber: '1', Data: data, PartitionKey: 'k' }, shardId, options);
    expect(event.kplaggregated).toBe(true);
    expect(Buffer.from(event.data_base64 as string, 'base64')).toEqual(data);
  });
});

describe('kinesis shards', () => {
  const shards = [
    { shardId: 's0' },
    { shardId: 's1' },
    { shardId: 's2', parentShardId: 's0' },
    { shardId: 's3', parentShardId: 's0' },
    { shardId: 's4', parentShardId: 's3', adjacentParentShardId: 's1' },
  ];
  const ids = (list: Array<{ shardId: string }>) => list.map((shard) => shard.shardId);

  it('reads a child only after every parent is finished', () => {
    expect(ids(readableShards(shards, {}))).toEqual(['s0', 's1']);
    expect(ids(readableShards(shards, { s0: shardEnd, s1: '9' }))).toEqual(['s1', 's2', 's3']);
    expect(ids(readableShards(shards, { s0: shardEnd, s3: shardEnd }))).toEqual(['s1', 's2']);
    expect(ids(readableShards(shards, { s0: shardEnd, s1: shardEnd, s3: shardEnd }))).toEqual(['s2', 's4']);
  });

  it('treats a parent the stream no longer lists as finished, and forgets its checkpoint', () => {
    const trimmed = shards.filter((shard) => shard.shardId !== 's0');
    expect(ids(readableShards(trimmed, { s1: '5' }))).toEqual(['s1', 's2', 's3']);
    expect(forgottenShards(trimmed, { s0: shardEnd, s1: '5' })).toEqual(['s0']);
  });

  it('splits the readable shards evenly over the live workers', () => {
    const workers = ['a', 'b', 'c'];
    expect(workers.map((worker) => fairShare(4, workers, worker))).toEqual([2, 1, 1]);
    expect(workers.map((worker) => fairShare(2, workers, worker))).toEqual([1, 1, 0]);
    expect(fairShare(4, [], 'a')).toBe(4);
    expect(fairShare(5, ['b'], 'a')).toBe(3);
  });
});

describe('kinesis spec', () => {
  it('accepts a stream name or ARN and takes the region from the ARN', () => {
    expect(parseStream('orders')).toEqual({ name: 'orders' });
    expect(parseStream('arn:aws:kinesis:eu-west-1:123456789012:stream/orders')).toEqual({
      name: 'orders',
      arn: 'arn:aws:kinesis:eu-west-1:123456789012:stream/orders',
      region: 'eu-west-1',
    });
    expect(kinesisSpec.safeParse({ stream: 'orders' }).success).toBe(true);
    expect(kinesisSpec.safeParse({ stream: 'no spaces' }).success).toBe(false);
  });

  it('requires startTimestamp exactly with AT_TIMESTAMP', () => {
    expect(kinesisSpec.safeParse({ stream: 's', startingPosition: 'AT_TIMESTAMP' }).success).toBe(false);
    expect(
      kinesisSpec.safeParse({
        stream: 's',
        startingPosition: 'AT_TIMESTAMP',
        startTimestamp: '2026-11-23T10:00:00Z',
      }).success,
    ).toBe(true);
    expect(kinesisSpec.safeParse({ stream: 's', startTimestamp: '2026-11-23T10:00:00Z' }).success).toBe(
      false,
    );
  });
});
