// Shared by the Kinesis integration tests: a client for the stack's kinesalite, streams, record producers.

import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CreateStreamCommand,
  DeleteStreamCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  ListShardsCommand,
  PutRecordsCommand,
  type Shard,
} from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Redis } from 'ioredis';

import { triggerStateKey } from '../../src/queue/keys.ts';
import { redisUrl, type TriggerDoc, triggerDoc } from '../../test/support/hub.ts';
import { kinesisEventId } from './record.ts';

// The sensor reads its credentials through secretRefs to these variables (child hubs inherit them).
process.env.TH_TEST_AWS_ACCESS_KEY_ID = 'test-key';
process.env.TH_TEST_AWS_SECRET_ACCESS_KEY = 'test-secret';

export function kinesisEndpoint(): string {
  const endpoint = process.env.TH_KINESIS_ENDPOINT;
  if (!endpoint)
    throw new Error('TH_KINESIS_ENDPOINT is not set: run the integration project with kinesalite');
  return endpoint;
}

export function kinesisClient(endpoint = kinesisEndpoint()): KinesisClient {
  return new KinesisClient({
    region: 'us-east-1',
    endpoint,
    credentials: { accessKeyId: 'test-key', secretAccessKey: 'test-secret' },
    requestHandler: new NodeHttpHandler(),
  });
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function waitActive(client: KinesisClient, stream: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { StreamDescriptionSummary: summary } = await client.send(
      new DescribeStreamSummaryCommand({ StreamName: stream }),
    );
    if (summary?.StreamStatus === 'ACTIVE') return;
    if (Date.now() > deadline) throw new Error(`stream ${stream} is not ACTIVE: ${summary?.StreamStatus}`);
    await sleep(50);
  }
}

const created = new Set<string>();

/** kinesalite keeps every stream in memory under an account limit (100 shards): tests delete theirs. */
export async function createStream(client: KinesisClient, stream: string, shards: number): Promise<void> {
  await client.send(new CreateStreamCommand({ StreamName: stream, ShardCount: shards }));
  created.add(stream);
  await waitActive(client, stream);
}

/** Deletes the streams this process created (call after the hubs reading them are stopped). */
export async function deleteStreams(client: KinesisClient): Promise<void> {
  for (const stream of created) {
    await client.send(new DeleteStreamCommand({ StreamName: stream })).catch(() => {});
    created.delete(stream);
  }
}

export async function listShards(client: KinesisClient, stream: string): Promise<Shard[]> {
  return (await client.send(new ListShardsCommand({ StreamName: stream }))).Shards ?? [];
}

export interface Put {
  id: string;
  shardId: string;
  sequence: string;
  partitionKey: string;
  index: number;
}

/** Puts records `{"n": index}` with partition key `key-<index % keys>`; returns where each landed. */
export async function putRecords(
  client: KinesisClient,
  stream: string,
  from: number,
  count: number,
  options: { keys?: number; data?: (index: number) => Uint8Array } = {},
): Promise<Put[]> {
  const keys = options.keys ?? 1000;
  const data = options.data ?? ((index: number) => Buffer.from(JSON.stringify({ n: index })));
  const puts: Put[] = [];
  for (let start = from; start < from + count; start += 500) {
    const indexes = Array.from({ length: Math.min(500, from + count - start) }, (_, i) => start + i);
    const entries = indexes.map((index) => ({ Data: data(index), PartitionKey: `key-${index % keys}` }));
    const output = await client.send(new PutRecordsCommand({ StreamName: stream, Records: entries }));
    if (output.FailedRecordCount) throw new Error(`${output.FailedRecordCount} records were not put`);
    output.Records!.forEach((result, i) => {
      puts.push({
        id: kinesisEventId(result.ShardId!, result.SequenceNumber!),
        shardId: result.ShardId!,
        sequence: result.SequenceNumber!,
        partitionKey: entries[i]!.PartitionKey,
        index: indexes[i]!,
      });
    });
  }
  return puts;
}

export function kinesisTrigger(
  namespace: string,
  name: string,
  options: { stream: string; sinkUrl: string; endpoint?: string; source?: object; delivery?: object },
): TriggerDoc {
  return triggerDoc(namespace, name, {
    source: {
      kinesis: {
        stream: options.stream,
        region: 'us-east-1',
        endpoint: options.endpoint ?? kinesisEndpoint(),
        credentials: {
          accessKeyId: { env: 'TH_TEST_AWS_ACCESS_KEY_ID' },
          secretAccessKey: { env: 'TH_TEST_AWS_SECRET_ACCESS_KEY' },
        },
        startingPosition: 'TRIM_HORIZON',
        pollIntervalMs: 200,
        shardDiscoveryIntervalMs: 1000,
        leaseDurationMs: 3000,
        ...options.source,
      },
    },
    target: { http: { url: options.sinkUrl } },
    delivery: { retries: 3, backoff: { initialMs: 50, maxMs: 500 }, ...options.delivery },
  });
}

/** Who holds each shard's lease right now (the sensor's workers are `<host>/<pid>/<random>`). */
export async function leaseOwners(
  redis: Redis,
  trigger: string,
  stream: string,
  shardIds: string[],
): Promise<Map<string, string | null>> {
  const keys = shardIds.map((id) => triggerStateKey({ key: trigger }, 'kinesis', stream, 'lease', id));
  const values = await redis.mget(...keys);
  return new Map(shardIds.map((id, i) => [id, values[i] ?? null]));
}

export function testRedis(): Redis {
  return new Redis(redisUrl(), { maxRetriesPerRequest: 3 });
}

/**
 * kinesalite does not enforce the per-shard read limits, so this proxy in front of it answers every other
 * GetRecords the way Kinesis does when a shard's limit is exceeded (400, ProvisionedThroughputExceededException).
 */
export async function throttlingProxy(
  target: string,
): Promise<{ url: string; throttled: () => number; server: Server }> {
  const upstream = new URL(target);
  let getRecords = 0;
  let throttled = 0;
  const server = createServer((incoming, outgoing) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      if (String(incoming.headers['x-amz-target']).endsWith('.GetRecords') && getRecords++ % 2 === 0) {
        throttled++;
        outgoing.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' }).end(
          JSON.stringify({
            __type: 'ProvisionedThroughputExceededException',
            message: 'Rate exceeded for shard in stream under account 000000000000.',
          }),
        );
        return;
      }
      const forward = request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: incoming.method,
          path: incoming.url,
          headers: incoming.headers,
        },
        (response) => {
          outgoing.writeHead(response.statusCode ?? 502, response.headers);
          response.pipe(outgoing);
        },
      );
      forward.on('error', () => outgoing.writeHead(502).end());
      forward.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, throttled: () => throttled, server };
}
