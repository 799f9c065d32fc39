import { z } from 'zod';
import { secretRef } from '../../src/trigger/secret-ref.ts';

/** `mc event add --event` shorthands, so a Trigger can say what `mc` says. */
export const eventShorthands: Record<string, string> = {
  put: 's3:ObjectCreated:*',
  delete: 's3:ObjectRemoved:*',
  get: 's3:ObjectAccessed:*',
  replica: 's3:Replication:*',
  ilm: 's3:ObjectTransition:*',
  scanner: 's3:Scanner:*',
};

const eventPattern = z
  .string()
  .regex(
    /^(put|delete|get|replica|ilm|scanner|\*|s3:[A-Za-z*][A-Za-z:*]*)$/,
    'an S3 event name (s3:ObjectCreated:Put), a wildcard (s3:ObjectCreated:*, *) or an mc shorthand (put, delete, get, replica, ilm, scanner)',
  );

export const minioSpec = z
  .object({
    path: z
      .string()
      .regex(/^[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*$/, 'path segments of letters, digits and . _ ~ -')
      .optional()
      .describe(
        "Route below /webhooks/ that MinIO's notify_webhook endpoint points at; defaults to <namespace>/<name>",
      ),
    authToken: secretRef.describe(
      'The notify_webhook auth_token: MinIO sends it as "Authorization: Bearer <token>"; a request without it gets 401, with another token 403',
    ),
    events: z
      .array(eventPattern)
      .optional()
      .describe(
        'Event names to keep, e.g. ["s3:ObjectCreated:*", "s3:ObjectRemoved:Delete"] or mc shorthands ["put", "delete"]; default: every event MinIO sends',
      ),
    bucket: z
      .string()
      .min(1)
      .optional()
      .describe('Keep only records of this bucket (MinIO sends every subscribed bucket to one target)'),
    prefix: z.string().min(1).optional().describe('Keep only object keys starting with this (decoded key)'),
    suffix: z.string().min(1).optional().describe('Keep only object keys ending with this, e.g. ".xml"'),
    maxBodyBytes: z.int().min(1).max(16_777_216).default(1_048_576),
    presign: z
      .object({
        endpoint: z
          .url({ protocol: /^https?$/ })
          .describe('MinIO URL as the function will reach it, e.g. http://minio.minio.svc:9000'),
        region: z
          .string()
          .min(1)
          .default('us-east-1')
          .describe('Region the URL is signed for (no lookup request is made)'),
        accessKey: secretRef,
        secretKey: secretRef,
        expirySeconds: z
          .int()
          .min(1)
          .max(604_800)
          .default(86_400)
          .describe(
            'How long the URL stays valid; longer than the delivery retries and a dead-letter replay may take',
          ),
      })
      .optional()
      .describe(
        'Add a presigned GET URL of the object to each created-object event (extension `presignedurl`)',
      ),
    backfill: z
      .object({
        endpoint: z
          .url({ protocol: /^https?$/ })
          .describe('MinIO URL as the hub reaches it, e.g. http://minio.minio.svc:9000'),
        region: z
          .string()
          .min(1)
          .default('us-east-1')
          .describe('Region the listing requests are signed for (no lookup request is made)'),
        accessKey: secretRef,
        secretKey: secretRef,
      })
      .optional()
      .describe(
        'Lets a backfill list `bucket` under `prefix`/`suffix` (docs/backfill.md); the keys need s3:ListBucket on the bucket',
      ),
  })
  .describe(
    "MinIO bucket notifications: an HTTP endpoint for MinIO's webhook target (notify_webhook); one CloudEvent per record",
  );

export type MinioSpec = z.output<typeof minioSpec>;
