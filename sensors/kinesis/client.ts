// The Kinesis client of one trigger. Retries are ours (src/retry/backoff.ts), not the SDK's, so throttling
// and reconnects show up in the sensor's health and logs and follow the hub's one backoff policy.

import { KinesisClient, ListShardsCommand, type Shard } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { BackoffPolicy } from '../../src/retry/backoff.ts';
import { resolveSecret } from '../../src/trigger/secret-ref.ts';
import { type KinesisSpec, parseStream } from './spec.ts';

export function createKinesisClient(spec: KinesisSpec): KinesisClient {
  const stream = parseStream(spec.stream);
  const credentials = spec.credentials
    ? {
        accessKeyId: resolveSecret(spec.credentials.accessKeyId),
        secretAccessKey: resolveSecret(spec.credentials.secretAccessKey),
        ...(spec.credentials.sessionToken
          ? { sessionToken: resolveSecret(spec.credentials.sessionToken) }
          : {}),
      }
    : undefined;
  return new KinesisClient({
    region: spec.region ?? stream.region,
    ...(spec.endpoint
      ? {
          endpoint: spec.endpoint,
          // kinesalite and some proxies do not speak HTTP/2; HTTP/1.1 works everywhere.
          requestHandler: new NodeHttpHandler({ connectionTimeout: 5000, requestTimeout: 30_000 }),
        }
      : {}),
    ...(credentials ? { credentials } : {}),
    maxAttempts: 1,
  });
}

/** AWS allows 5 GetRecords per second per shard: after a non-empty batch the next call starts this long after it. */
export const busyPollMs = 200;

/** How a shard reader backs off a throttled GetRecords (the live sensor and the backfill reader alike). */
export const throttleBackoff: BackoffPolicy = { initialMs: 250, maxMs: 10_000, multiplier: 2, jitter: 0.5 };

/** How requests name the stream: by ARN when the spec gives one (cross-account), else by name. */
export function streamRef(spec: KinesisSpec): { StreamARN: string } | { StreamName: string } {
  const stream = parseStream(spec.stream);
  return stream.arn ? { StreamARN: stream.arn } : { StreamName: stream.name };
}

/** Every shard of the stream, open and closed (closed ones are listed until the retention period ends). */
export async function listShards(
  client: KinesisClient,
  stream: { StreamARN: string } | { StreamName: string },
  signal: AbortSignal,
): Promise<Shard[]> {
  const all: Shard[] = [];
  let nextToken: string | undefined;
  do {
    const page = await client.send(
      new ListShardsCommand(nextToken ? { NextToken: nextToken } : { ...stream }),
      { abortSignal: signal },
    );
    all.push(...(page.Shards ?? []));
    nextToken = page.NextToken;
  } while (nextToken);
  return all;
}

const throttlingErrors = new Set([
  'ProvisionedThroughputExceededException',
  'LimitExceededException',
  'ThrottlingException',
  'KMSThrottlingException',
  'TooManyRequestsException',
]);

export function isThrottling(error: unknown): boolean {
  const name = (error as { name?: string } | undefined)?.name;
  return name !== undefined && throttlingErrors.has(name);
}

export function errorName(error: unknown): string {
  return (error as { name?: string } | undefined)?.name ?? 'Error';
}
