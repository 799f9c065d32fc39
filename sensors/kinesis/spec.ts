import { z } from 'zod';
import { secretRef } from '../../src/trigger/secret-ref.ts';

const streamArn = /^arn:aws[a-z-]*:kinesis:([a-z0-9-]+):\d{12}:stream\/([A-Za-z0-9_.-]{1,128})$/;
const streamNameOrArn =
  /^(?:[A-Za-z0-9_.-]{1,128}|arn:aws[a-z-]*:kinesis:[a-z0-9-]+:[0-9]{12}:stream\/[A-Za-z0-9_.-]{1,128})$/;

export const kinesisSpec = z
  .object({
    stream: z
      .string()
      .regex(streamNameOrArn, 'a stream name (letters, digits, _ . -) or a stream ARN')
      .describe('Stream name, or its ARN (arn:aws:kinesis:<region>:<account>:stream/<name>)'),
    region: z
      .string()
      .min(1)
      .optional()
      .describe("AWS region; defaults to the ARN's region, then the AWS default chain (AWS_REGION, profile)"),
    endpoint: z
      .url({ protocol: /^https?$/ })
      .optional()
      .describe('Endpoint override: kinesalite, LocalStack or a VPC endpoint (spoken to over HTTP/1.1)'),
    credentials: z
      .object({
        accessKeyId: secretRef,
        secretAccessKey: secretRef,
        sessionToken: secretRef.optional(),
      })
      .optional()
      .describe(
        'Static credentials from Secrets or env; unset: the AWS default chain (env, profile, IRSA, IMDS)',
      ),
    startingPosition: z
      .enum(['LATEST', 'TRIM_HORIZON', 'AT_TIMESTAMP'])
      .default('LATEST')
      .describe(
        'Where a shard without a checkpoint starts. LATEST means "from the moment the trigger first started", so records put between a first start and a restart are not skipped',
      ),
    startTimestamp: z.iso
      .datetime({ offset: true })
      .optional()
      .describe('With AT_TIMESTAMP: records that arrived at or after this time (RFC 3339)'),
    pollIntervalMs: z
      .int()
      .min(200)
      .max(300_000)
      .default(1000)
      .describe(
        'How often a shard with nothing new is polled; while records flow a shard is read every 200 ms (AWS allows 5 GetRecords/s per shard)',
      ),
    maxRecordsPerRequest: z
      .int()
      .min(1)
      .max(10_000)
      .default(1000)
      .describe('GetRecords Limit (one emit per result)'),
    shardDiscoveryIntervalMs: z
      .int()
      .min(1000)
      .default(30_000)
      .describe('How often ListShards looks for new shards (also run at once when a shard ends)'),
    leaseDurationMs: z
      .int()
      .min(1000)
      .max(600_000)
      .default(10_000)
      .describe(
        "A shard lease's lifetime in Redis: a replica that dies loses its shards to the others after this long; renewed every third of it",
      ),
    eventType: z.string().min(1).default('io.triggerhub.kinesis.record'),
  })
  .superRefine((spec, ctx) => {
    if ((spec.startingPosition === 'AT_TIMESTAMP') !== (spec.startTimestamp !== undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['startTimestamp'],
        message: 'set startTimestamp exactly when startingPosition is AT_TIMESTAMP',
      });
    }
  })
  .meta({
    'x-kubernetes-validations': [
      {
        rule: "(has(self.startingPosition) && self.startingPosition == 'AT_TIMESTAMP') == has(self.startTimestamp)",
        message: 'set startTimestamp exactly when startingPosition is AT_TIMESTAMP',
      },
    ],
  })
  .describe(
    'Records of an AWS Kinesis data stream; shards are split between hub replicas by leases in Redis',
  );

export type KinesisSpec = z.output<typeof kinesisSpec>;

/** The stream's name and, when the spec gave an ARN, the ARN and its region. */
export function parseStream(stream: string): { name: string; arn?: string; region?: string } {
  const match = streamArn.exec(stream);
  if (match) return { name: match[2]!, arn: stream, region: match[1]! };
  return { name: stream };
}
