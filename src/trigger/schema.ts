// The Trigger resource: the single source of truth for the TypeScript types, the validation of YAML files
// and the CRD's openAPIV3Schema (crd.ts). Field docs here become `kubectl explain` text.

import { z } from 'zod';
import { isCelValid } from '../cel.ts';
import { builtinSensors, type SourceKind } from '../registry.ts';
import { secretRef } from './secret-ref.ts';

export const apiGroup = 'triggerhub.io';
export const apiVersion = 'v1alpha1';

const sourceKinds = Object.keys(builtinSensors) as SourceKind[];
const oneOf = (keys: string[]) =>
  `[${keys.map((key) => `has(self.${key})`).join(', ')}].filter(x, x).size() == 1`;

const sourceShape = Object.fromEntries(
  sourceKinds.map((kind) => [kind, builtinSensors[kind].spec.optional()]),
) as { [K in SourceKind]: z.ZodOptional<(typeof builtinSensors)[K]['spec']> };

export const sourceSchema = z
  .object(sourceShape)
  .refine((source) => sourceKinds.filter((kind) => source[kind] !== undefined).length === 1, {
    message: `set exactly one source kind: ${sourceKinds.join(', ')}`,
  })
  .meta({
    'x-kubernetes-validations': [
      { rule: oneOf(sourceKinds), message: `set exactly one of ${sourceKinds.join(', ')}` },
    ],
  })
  .describe('Where events come from: exactly one source kind');

const attributeMatch = z
  .object({
    attribute: z.string().min(1).describe('CloudEvents attribute or extension name, e.g. type, subject'),
    exact: z.string().optional(),
    prefix: z.string().optional(),
    suffix: z.string().optional(),
  })
  .refine((m) => [m.exact, m.prefix, m.suffix].filter((v) => v !== undefined).length === 1, {
    message: 'set exactly one of exact, prefix, suffix',
  })
  .meta({
    'x-kubernetes-validations': [
      { rule: oneOf(['exact', 'prefix', 'suffix']), message: 'set exactly one of exact, prefix, suffix' },
    ],
  });

export const filterSchema = z
  .object({
    attributes: z
      .array(attributeMatch)
      .max(32)
      .optional()
      .describe('All must match (at most 32: the API server bounds the cost of CRD validation rules)'),
    expression: z
      .string()
      .min(1)
      .optional()
      .describe(
        'CEL expression over `event` (attributes, extensions and data), e.g. event.data.reason == "BackOff"',
      ),
  })
  .superRefine((filter, ctx) => {
    if (filter.expression === undefined) return;
    const error = isCelValid(filter.expression);
    if (error)
      ctx.addIssue({ code: 'custom', path: ['expression'], message: `invalid CEL expression: ${error}` });
  })
  .describe('Events that do not match are dropped before they are enqueued (and counted)');

const httpTarget = z.object({
  url: z
    .url({ protocol: /^https?$/ })
    .describe('Function endpoint: Fission router route, OpenFaaS gateway, Knative service, any URL'),
  mode: z.enum(['binary', 'structured']).default('binary').describe('CloudEvents HTTP content mode'),
  headers: z.record(z.string(), z.string()).optional().describe('Extra request headers'),
  compatibility: z
    .enum(['none', 'fission', 'kubeless'])
    .default('none')
    .describe('Also send Fission kubewatcher or Kubeless event headers'),
});

const slackTarget = z.object({
  webhookUrl: secretRef.describe('The Slack incoming-webhook URL (a secret: it embeds the token)'),
  text: z
    .string()
    .default('{{type}} from {{source}}: {{subject}}')
    .describe('Message template; {{path}} inserts an event attribute or data field, e.g. {{data.reason}}'),
});

export const targetSchema = z
  .object({ http: httpTarget.optional(), slack: slackTarget.optional() })
  .refine((target) => (target.http === undefined) !== (target.slack === undefined), {
    message: 'set exactly one target kind: http, slack',
  })
  .meta({
    'x-kubernetes-validations': [
      { rule: oneOf(['http', 'slack']), message: 'set exactly one of http, slack' },
    ],
  });

/** Jobs a batching dispatcher holds active at once (concurrency × maxEvents) are bounded by this. */
export const maxActiveBatchedEvents = 10_000;

export const batchSchema = z.object({
  maxEvents: z.int().min(1).max(1000).default(100).describe('At most this many events in one request'),
  maxWaitMs: z
    .int()
    .min(1)
    .max(60_000)
    .default(1000)
    .describe('A batch that is not full is sent this long after its first event arrived'),
  maxBytes: z
    .int()
    .min(1024)
    .max(64 * 1024 * 1024)
    .default(1024 * 1024)
    .describe('A batch is sent before its body would grow past this many bytes; a larger event goes alone'),
  onFailure: z
    .enum(['retry', 'split'])
    .default('retry')
    .describe(
      'retry: a failed batch is retried as a whole; split: a batch the function fails (4xx, 500) is halved and each half sent again, so a bad event ends alone in the dead-letter queue',
    ),
});

/** Attributes that cannot order anything: every event has its own id, data is no key. */
const unorderableAttributes = new Set(['id', 'data', 'specversion', 'time']);

export const orderingSchema = z
  .object({
    mode: z
      .enum(['none', 'per-key'])
      .describe('per-key: one in-flight delivery per key, in enqueue order; none: concurrent (the default)'),
    key: z
      .string()
      .regex(/^[a-z0-9]{1,20}$/, 'a CloudEvents attribute or extension name (a-z, 0-9, at most 20)')
      .refine((name) => !unorderableAttributes.has(name), {
        message: 'id, data, specversion and time are not keys',
      })
      .meta({
        'x-kubernetes-validations': [
          {
            rule: `!(self in [${[...unorderableAttributes].map((name) => `'${name}'`).join(', ')}])`,
            message: 'id, data, specversion and time are not keys',
          },
        ],
      })
      .default('partitionkey')
      .describe(
        'The attribute whose value is the key (default partitionkey: the Kafka message key, the Kinesis partition key); events without it fall back to the Kafka partition, then the subject',
      ),
  })
  .describe(
    'Per-key ordered delivery: a failing event (its retries and backoff) holds back only its own key; once it is delivered or dead-lettered the key moves on',
  );

export const deliverySchema = z.object({
  retries: z
    .int()
    .min(0)
    .max(100)
    .default(10)
    .describe('Retries after the first attempt before dead-lettering'),
  backoff: z
    .object({
      initialMs: z.int().min(1).default(500),
      maxMs: z.int().min(1).default(60_000),
      multiplier: z.number().min(1).default(2),
      jitter: z.number().min(0).max(1).default(0.2),
    })
    .prefault({})
    .describe('Exponential backoff with jitter and a cap; a Retry-After answer overrides it'),
  timeoutMs: z.int().min(1).max(600_000).default(10_000).describe('Per-attempt request timeout'),
  concurrency: z.int().min(1).max(1000).default(32).describe('In-flight deliveries per hub process'),
  rateLimit: z
    .object({ max: z.int().min(1), durationMs: z.int().min(1).default(1000) })
    .optional()
    .describe('At most `max` deliveries per `durationMs`, across all hub processes'),
  maxAgeMs: z
    .int()
    .min(1)
    .optional()
    .describe(
      'Dead-letter (reason TH_ERR_EVENT_EXPIRED) instead of delivering an event older than this, by its source time',
    ),
  deadLetter: z
    .object({ retainDays: z.int().min(1).max(365).default(14) })
    .prefault({})
    .describe('How long dead-lettered events are kept'),
  batch: batchSchema
    .optional()
    .describe(
      'Deliver up to maxEvents events in one request (a CloudEvents batch, application/cloudevents-batch+json); http targets only',
    ),

  ordering: orderingSchema.optional(),
});

export const scalingProviders = ['hpa', 'keda'] as const;

export const scalingSchema = z
  .object({
    provider: z
      .enum(scalingProviders)
      .default('hpa')
      .describe(
        'hpa: an autoscaling/v2 HorizontalPodAutoscaler on External metrics served by prometheus-adapter; keda: a KEDA ScaledObject with Prometheus triggers (allows minReplicas 0)',
      ),
    targetRef: z.object({
      apiVersion: z.string().default('apps/v1'),
      kind: z.string().default('Deployment'),
      name: z.string().min(1),
    }),
    minReplicas: z.int().min(0).default(1),
    maxReplicas: z.int().min(1).default(10),
    targetQps: z.number().positive().default(50).describe('Delivered events per second per replica'),
    targetBacklog: z
      .int()
      .min(1)
      .optional()
      .describe(
        'Undelivered events (waiting + retrying) per replica: scales up a function too slow to reach targetQps',
      ),
  })
  .refine((scaling) => scaling.provider === 'keda' || scaling.minReplicas >= 1, {
    path: ['minReplicas'],
    message: 'minReplicas 0 (scale to zero) needs provider keda; an HPA keeps at least 1',
  })
  .refine((scaling) => scaling.maxReplicas >= scaling.minReplicas, {
    path: ['maxReplicas'],
    message: 'maxReplicas must be at least minReplicas',
  })
  .meta({
    'x-kubernetes-validations': [
      {
        rule: "!has(self.minReplicas) || self.minReplicas >= 1 || (has(self.provider) && self.provider == 'keda')",
        message: 'minReplicas 0 (scale to zero) needs provider keda; an HPA keeps at least 1',
      },
      {
        rule: '!has(self.minReplicas) || !has(self.maxReplicas) || self.maxReplicas >= self.minReplicas',
        message: 'maxReplicas must be at least minReplicas',
      },
    ],
  })
  .describe(
    'Autoscaling of the target workload on the events this trigger delivers (cluster mode; docs/scaling.md)',
  );

export const triggerSpecSchema = z
  .object({
    source: sourceSchema,
    filter: filterSchema.optional(),
    target: targetSchema,
    delivery: deliverySchema.prefault({}),
    scaling: scalingSchema.optional(),
  })
  .superRefine((spec, ctx) => {
    const { batch } = spec.delivery;
    if (batch === undefined) return;
    const issue = (message: string) => ctx.addIssue({ code: 'custom', path: ['delivery', 'batch'], message });
    if (spec.target.slack) issue('batch works with http targets only: a Slack message renders one event');
    if (spec.target.http && spec.target.http.compatibility !== 'none')
      issue(
        `batch cannot be combined with target.http.compatibility ${spec.target.http.compatibility}: its headers describe one event`,
      );
    // `ordering` (one in-flight event per key) and a batch of many events in flight contradict each other.
    if (spec.delivery.ordering?.mode === 'per-key')
      issue(
        'batch cannot be combined with per-key ordering: ordered delivery sends one event per key at a time',
      );
    const kind = sourceKindOf(spec);
    const replyField = builtinSensors[kind].capabilities?.repliesPerEvent?.field;
    if (replyField && (spec.source[kind] as Record<string, unknown>)[replyField] !== undefined)
      issue(
        `batch cannot be combined with source.${kind}.${replyField}: a batch gets one response, not one per event`,
      );
    const active = spec.delivery.concurrency * batch.maxEvents;
    if (active > maxActiveBatchedEvents)
      issue(
        `concurrency × batch.maxEvents is ${active} events in flight; at most ${maxActiveBatchedEvents}: lower delivery.concurrency (batches in flight) or batch.maxEvents`,
      );
  })
  .meta({
    'x-kubernetes-validations': [
      {
        rule: '!has(self.delivery) || !has(self.delivery.batch) || !has(self.target.slack)',
        message: 'delivery.batch works with http targets only',
      },
      {
        rule: "!has(self.delivery) || !has(self.delivery.batch) || !has(self.target.http) || !has(self.target.http.compatibility) || self.target.http.compatibility == 'none'",
        message: 'delivery.batch cannot be combined with target.http.compatibility headers',
      },
      {
        // The API server fills defaults before it validates; the guards keep the rule correct without them.
        rule: `!has(self.delivery) || !has(self.delivery.batch) || (has(self.delivery.concurrency) ? self.delivery.concurrency : 32) * (has(self.delivery.batch.maxEvents) ? self.delivery.batch.maxEvents : 100) <= ${maxActiveBatchedEvents}`,
        message: `delivery.concurrency × delivery.batch.maxEvents must be at most ${maxActiveBatchedEvents}`,
      },
    ],
  });

const condition = z.object({
  type: z.string(),
  status: z.enum(['True', 'False', 'Unknown']),
  reason: z.string().optional(),
  message: z.string().optional(),
  lastTransitionTime: z.string().optional(),
  observedGeneration: z.int().optional(),
});

export const triggerStatusSchema = z.object({
  observedGeneration: z.int().optional(),
  sourceKind: z.string().optional(),
  conditions: z.array(condition).optional(),
  lastEventTime: z.string().optional(),
  counters: z
    .object({
      received: z.int().optional(),
      enqueued: z.int().optional(),
      delivered: z.int().optional(),
      deadLettered: z.int().optional(),
    })
    .optional(),
});

const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export const triggerSchema = z.object({
  apiVersion: z.literal(`${apiGroup}/${apiVersion}`),
  kind: z.literal('Trigger'),
  metadata: z.object({
    name: z.string().max(253).regex(dnsSubdomain, 'a lower-case DNS name (a-z, 0-9, -, .)'),
    namespace: z.string().max(63).regex(dnsLabel, 'a lower-case DNS label').default('default'),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
    generation: z.int().optional(),
    uid: z.string().optional(),
  }),
  spec: triggerSpecSchema,
  status: triggerStatusSchema.optional(),
});

export type Trigger = z.output<typeof triggerSchema>;
export type TriggerSpec = z.output<typeof triggerSpecSchema>;
export type DeliverySpec = z.output<typeof deliverySchema>;
export type ScalingSpec = z.output<typeof scalingSchema>;
export type BatchSpec = z.output<typeof batchSchema>;

export type OrderingSpec = z.output<typeof orderingSchema>;
export type FilterSpec = z.output<typeof filterSchema>;
export type TargetSpec = z.output<typeof targetSchema>;
export type TriggerStatus = z.output<typeof triggerStatusSchema>;

/** The source kind a valid spec uses. */
export function sourceKindOf(spec: TriggerSpec): SourceKind {
  return sourceKinds.find((kind) => spec.source[kind] !== undefined)!;
}
