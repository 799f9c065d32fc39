import { z } from 'zod';
import { secretRef } from '../../src/trigger/secret-ref.ts';

function regexError(pattern: string): string | undefined {
  try {
    new RegExp(pattern);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

const topicName = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,249}$/, 'a Kafka topic name: 1-249 of letters, digits, . _ -');

export const kafkaTlsSpec = z
  .object({
    ca: secretRef
      .optional()
      .describe("PEM of the CA that signed the brokers' certificates (default: the system CAs)"),
    cert: secretRef.optional().describe('PEM client certificate, for mutual TLS'),
    key: secretRef.optional().describe('PEM private key of the client certificate'),
    servername: z.string().optional().describe('SNI server name, when it differs from the broker host'),
    insecureSkipVerify: z
      .boolean()
      .default(false)
      .describe("Do not verify the brokers' certificates (testing only)"),
  })
  .refine((tls) => (tls.cert === undefined) === (tls.key === undefined), {
    message: 'set both cert and key, or neither',
  })
  .meta({
    'x-kubernetes-validations': [
      { rule: 'has(self.cert) == has(self.key)', message: 'set both cert and key, or neither' },
    ],
  })
  .describe('Connect with TLS (an empty object enables it with the system CAs)');

export const kafkaSaslSpec = z
  .object({
    mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']),
    username: z.string().min(1),
    password: secretRef.describe('The password: never written in the Trigger itself'),
  })
  .describe('SASL authentication (combine with tls: SASL PLAIN sends the password in clear otherwise)');

export const kafkaSpec = z
  .object({
    brokers: z.array(z.string().min(1)).min(1).describe('Bootstrap brokers, host:port'),
    topics: z.array(topicName).min(1).optional().describe('Topics to consume'),
    topicPattern: z
      .string()
      .min(1)
      .optional()
      .describe(
        'A JavaScript regular expression; the topics matching it when the consumer (re)joins are consumed',
      ),
    groupId: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Consumer group; defaults to trigger-hub.<namespace>.<name>. Hub replicas share its partitions',
      ),
    startFrom: z
      .enum(['earliest', 'latest'])
      .default('latest')
      .describe('Where a group without committed offsets starts; committed offsets always win'),
    clientId: z.string().min(1).optional().describe('Kafka client id; defaults to trigger-hub'),
    tls: kafkaTlsSpec.optional(),
    sasl: kafkaSaslSpec.optional(),
    eventType: z
      .string()
      .min(1)
      .default('io.triggerhub.kafka.message')
      .describe('CloudEvents type of plain messages (a message that already is a CloudEvent keeps its own)'),
    partitionsConsumedConcurrently: z
      .int()
      .min(1)
      .max(64)
      .default(4)
      .describe('Partitions whose batches are ingested at the same time by one hub process'),
    maxBytesPerPartition: z
      .int()
      .min(1024)
      .max(104_857_600)
      .default(1_048_576)
      .describe('Fetch size per partition; a larger single message is still fetched whole'),
    responseTopic: topicName
      .optional()
      .describe(
        "Publish the function's 2xx reply here: value = the response body, key = the event's partitionkey, headers name the event answered",
      ),
    errorTopic: topicName
      .optional()
      .describe(
        "Publish dead-lettered events here too (like Fission's errorTopic): value = the event as a structured CloudEvent, the error in triggerhub-* headers",
      ),
    sessionTimeoutMs: z.int().min(6000).max(300_000).default(30_000),
    heartbeatIntervalMs: z.int().min(100).max(60_000).default(3000),
  })
  .superRefine((spec, ctx) => {
    if ((spec.topics === undefined) === (spec.topicPattern === undefined))
      ctx.addIssue({ code: 'custom', message: 'set exactly one of topics, topicPattern' });
    if (spec.topicPattern !== undefined) {
      const error = regexError(spec.topicPattern);
      if (error)
        ctx.addIssue({
          code: 'custom',
          path: ['topicPattern'],
          message: `invalid regular expression: ${error}`,
        });
    }
  })
  .meta({
    'x-kubernetes-validations': [
      {
        rule: 'has(self.topics) != has(self.topicPattern)',
        message: 'set exactly one of topics, topicPattern',
      },
    ],
  })
  .describe(
    'Kafka topics read by a consumer group: a fetched batch is one durable write, and offsets are committed only after it',
  );

export type KafkaSpec = z.output<typeof kafkaSpec>;
export type KafkaTlsSpec = z.output<typeof kafkaTlsSpec>;
