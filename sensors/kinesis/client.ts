// The Kinesis client of one trigger. Retries are ours (src/retry/backoff.ts), not the SDK's, so throttling
// and reconnects show up in the sensor's health and logs and follow the hub's one backoff policy.

import { KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
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
