import { z } from 'zod';
import { secretRef } from '../../src/trigger/secret-ref.ts';

export const webhookSpec = z
  .object({
    path: z
      .string()
      .regex(/^[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*$/, 'path segments of letters, digits and . _ ~ -')
      .optional()
      .describe('Route below /webhooks/; defaults to <namespace>/<name>'),
    auth: z
      .object({
        bearer: secretRef.optional().describe('Require "Authorization: Bearer <token>"'),
        hmac: z
          .object({
            secret: secretRef,
            header: z.string().default('x-hub-signature-256').describe('Header carrying the signature'),
            algorithm: z.enum(['sha1', 'sha256', 'sha512']).default('sha256'),
            prefix: z.string().default('sha256=').describe('Text before the hex digest, e.g. "sha256="'),
          })
          .optional()
          .describe('Require an HMAC of the raw body, GitHub style'),
      })
      .optional(),
    body: z
      .enum(['json', 'raw'])
      .default('json')
      .describe(
        'json: the body must parse as JSON (400 otherwise); raw: delivered as-is with its content type',
      ),
    maxBodyBytes: z.int().min(1).max(16_777_216).default(1_048_576),
    idHeader: z
      .string()
      .optional()
      .describe(
        "Header holding the sender's delivery id, used for the event id so a re-sent delivery is not enqueued twice; defaults to the first of idempotency-key, x-github-delivery, x-request-id",
      ),
    eventType: z.string().default('io.triggerhub.webhook'),
  })
  .describe(
    'A generic HTTP endpoint; incoming CloudEvents (binary, structured or batch) keep their attributes',
  );

export type WebhookSpec = z.output<typeof webhookSpec>;
