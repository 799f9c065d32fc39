import { randomUUID } from 'node:crypto';
import {
  CreateStreamCommand,
  DeleteStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand,
  PutRecordsCommand,
  waitUntilStreamExists,
} from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, describe, expect, it } from 'vitest';
import { serviceEnv } from '../../test/setup/env.ts';

describe('kinesis (kinesalite)', () => {
  const client = new KinesisClient({
    endpoint: serviceEnv('TH_KINESIS_ENDPOINT').TH_KINESIS_ENDPOINT,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    // kinesalite speaks HTTP/1.1 only; the SDK's default handler for Kinesis is HTTP/2.
    requestHandler: new NodeHttpHandler(),
  });
  const StreamName = `smoke-${randomUUID()}`;

  afterAll(async () => {
    await client.send(new DeleteStreamCommand({ StreamName })).catch(() => undefined);
    client.destroy();
  });

  it('creates a stream, puts records and reads them back from every shard', async () => {
    await client.send(new CreateStreamCommand({ StreamName, ShardCount: 2 }));
    await waitUntilStreamExists({ client, maxWaitTime: 30, minDelay: 1 }, { StreamName });

    const records = Array.from({ length: 6 }, (_, i) => ({
      Data: Buffer.from(JSON.stringify({ n: i })),
      PartitionKey: `key-${i}`,
    }));
    const put = await client.send(new PutRecordsCommand({ StreamName, Records: records }));
    expect(put.FailedRecordCount).toBe(0);

    const { Shards } = await client.send(new ListShardsCommand({ StreamName }));
    expect(Shards).toHaveLength(2);
    const got: number[] = [];
    for (const shard of Shards!) {
      const { ShardIterator } = await client.send(
        new GetShardIteratorCommand({
          StreamName,
          ShardId: shard.ShardId!,
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      );
      const res = await client.send(new GetRecordsCommand({ ShardIterator }));
      for (const r of res.Records ?? []) {
        expect(r.SequenceNumber).toMatch(/^\d+$/);
        got.push((JSON.parse(Buffer.from(r.Data!).toString()) as { n: number }).n);
      }
    }
    expect(got.sort()).toEqual([0, 1, 2, 3, 4, 5]);
  });
});
