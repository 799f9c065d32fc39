import { z } from 'zod';
import { secretRef } from '../../src/trigger/secret-ref.ts';

/** A NATS subject: tokens separated by `.`, with the `*` and `>` wildcards; no whitespace. */
const subject = z.string().regex(/^[^\s.]+(\.[^\s.]+)*$/, 'a NATS subject: dot-separated tokens, no spaces');

/** A subject to publish on: no wildcards. */
const publishSubject = z
  .string()
  .regex(/^[^\s.*>]+(\.[^\s.*>]+)*$/, 'a NATS subject without wildcards, no spaces');

export const jetStreamSpec = z
  .object({
    stream: z.string().regex(/^[^\s.*>/\\]+$/, 'a stream name: no spaces, ., *, >, / or \\'),
    durable: z
      .string()
      .regex(/^[^\s.*>/\\]+$/, 'a durable name: no spaces, ., *, >, / or \\')
      .optional()
      .describe('Durable pull consumer, created if missing; defaults to trigger-hub_<namespace>_<name>'),
    filterSubject: subject.optional().describe('Only messages of the stream on this subject'),
    deliverPolicy: z
      .enum(['all', 'last', 'new', 'last_per_subject'])
      .default('all')
      .describe('Where a new durable consumer starts (an existing one keeps its position)'),
    ackWaitMs: z
      .int()
      .min(1000)
      .max(3_600_000)
      .default(30_000)
      .describe('A message not acked within this time is redelivered (to any hub replica)'),
    maxAckPending: z
      .int()
      .min(1)
      .max(100_000)
      .default(2000)
      .describe('Messages delivered but not yet acked, across all replicas: the in-flight bound'),
    batchSize: z.int().min(1).max(1000).default(500).describe('Most messages in one durable write'),
  })
  .describe(
    'A JetStream durable pull consumer: messages are acked only once durable in the hub (at-least-once)',
  );

export const natsSpec = z
  .object({
    servers: z.array(z.string().min(1)).min(1).describe('NATS URLs, e.g. nats://nats:4222'),
    subject: subject
      .optional()
      .describe('Core NATS subject to subscribe to (at-most-once: see the docs); wildcards allowed'),
    queueGroup: z
      .string()
      .min(1)
      .optional()
      .describe('Queue group of a core subscription; defaults to trigger-hub.<namespace>.<name>'),
    jetstream: jetStreamSpec.optional(),
    auth: z
      .object({
        token: secretRef.optional(),
        user: z.string().min(1).optional(),
        password: secretRef.optional(),
        credentials: secretRef.optional().describe('The content of a .creds file (JWT and NKey seed)'),
      })
      .refine((auth) => (auth.user === undefined) === (auth.password === undefined), {
        message: 'set both user and password, or neither',
      })
      .meta({
        'x-kubernetes-validations': [
          { rule: 'has(self.user) == has(self.password)', message: 'set both user and password, or neither' },
        ],
      })
      .optional(),
    tls: z
      .object({
        ca: secretRef.optional().describe("PEM of the CA of the servers' certificates"),
        cert: secretRef.optional().describe('PEM client certificate, for mutual TLS'),
        key: secretRef.optional().describe('PEM private key of the client certificate'),
      })
      .optional()
      .describe('Require TLS'),
    responseSubject: publishSubject
      .optional()
      .describe(
        "Publish the function's 2xx reply here (acked by the stream when a JetStream stream captures the subject)",
      ),
    errorSubject: publishSubject
      .optional()
      .describe(
        'Publish dead-lettered events here too: the event as a structured CloudEvent, the error in triggerhub-* headers',
      ),
    eventType: z
      .string()
      .min(1)
      .default('io.triggerhub.nats.message')
      .describe('CloudEvents type of plain messages (a message that already is a CloudEvent keeps its own)'),
  })
  .superRefine((spec, ctx) => {
    if ((spec.subject === undefined) === (spec.jetstream === undefined))
      ctx.addIssue({ code: 'custom', message: 'set exactly one of subject, jetstream' });
    if (spec.queueGroup !== undefined && spec.subject === undefined)
      ctx.addIssue({ code: 'custom', path: ['queueGroup'], message: 'queueGroup goes with subject' });
  })
  .meta({
    'x-kubernetes-validations': [
      { rule: 'has(self.subject) != has(self.jetstream)', message: 'set exactly one of subject, jetstream' },
    ],
  })
  .describe(
    'NATS: a core subject with a queue group (at-most-once), or a JetStream durable consumer (at-least-once)',
  );

export type NatsSpec = z.output<typeof natsSpec>;
export type JetStreamSpec = z.output<typeof jetStreamSpec>;
