// Fission triggers (fission.io/v1). Fission invokes every function through its router
// (/fission-function/<namespace>/<name>); the http target's `compatibility: fission` adds the
// X-Kubernetes-Event-Type / -Object-Type headers kubewatcher sent.

import { type ConvertContext, ConvertError } from './context.ts';
import { webhookPath } from './kubeless.ts';

type Spec = Record<string, unknown>;

function functionName(ctx: ConvertContext): string {
  const ref = ctx.take('functionref') as
    | { type?: string; name?: string; functionweights?: Record<string, number> | null }
    | undefined;
  if (ref?.type === 'function-weights' && ref.functionweights) {
    const [heaviest] = Object.entries(ref.functionweights).sort((a, b) => b[1] - a[1]);
    if (!heaviest) throw new ConvertError('spec.functionref.functionweights is empty');
    ctx.warn(
      'spec.functionref.functionweights',
      `a Trigger has one target: every event goes to ${heaviest[0]} (the heaviest weight); split traffic in front of the functions`,
    );
    return heaviest[0];
  }
  if (!ref?.name) throw new ConvertError('spec.functionref.name is required');
  return ref.name;
}

function target(ctx: ConvertContext, name: string, subpath = ''): Spec {
  const base = ctx.options.fissionRouter.replace(/\/+$/, '');
  const route = ctx.namespace === 'default' ? name : `${ctx.namespace}/${name}`;
  const suffix = subpath && subpath !== '/' ? `/${subpath.replace(/^\/+/, '')}` : '';
  return { http: { url: `${base}/fission-function/${route}${suffix}`, compatibility: 'fission' } };
}

/** Fission's kubewatcher `type` (lower-case, singular) to an apiVersion and kind. */
const watchTypes: Record<string, { apiVersion: string; kind: string }> = {
  pod: { apiVersion: 'v1', kind: 'Pod' },
  service: { apiVersion: 'v1', kind: 'Service' },
  replicationcontroller: { apiVersion: 'v1', kind: 'ReplicationController' },
  configmap: { apiVersion: 'v1', kind: 'ConfigMap' },
  secret: { apiVersion: 'v1', kind: 'Secret' },
  namespace: { apiVersion: 'v1', kind: 'Namespace' },
  node: { apiVersion: 'v1', kind: 'Node' },
  persistentvolumeclaim: { apiVersion: 'v1', kind: 'PersistentVolumeClaim' },
  event: { apiVersion: 'v1', kind: 'Event' },
  job: { apiVersion: 'batch/v1', kind: 'Job' },
  cronjob: { apiVersion: 'batch/v1', kind: 'CronJob' },
  deployment: { apiVersion: 'apps/v1', kind: 'Deployment' },
  replicaset: { apiVersion: 'apps/v1', kind: 'ReplicaSet' },
  statefulset: { apiVersion: 'apps/v1', kind: 'StatefulSet' },
  daemonset: { apiVersion: 'apps/v1', kind: 'DaemonSet' },
  ingress: { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress' },
};

function kubernetesWatch(ctx: ConvertContext): Spec {
  const name = functionName(ctx);
  const type = ctx.requireString('type');
  const resolved = watchTypes[type.toLowerCase().replace(/s$/, '')];
  if (!resolved)
    throw new ConvertError(
      `spec.type "${type}" is not a resource type the converter knows (${Object.keys(watchTypes).join(', ')})`,
    );
  const namespace = ctx.string('namespace');
  const labels = ctx.take('labelselector') as Record<string, string> | undefined;
  const labelSelector = labels
    ? Object.entries(labels)
        .map(([key, value]) => `${key}=${value}`)
        .join(',')
    : undefined;
  return {
    source: {
      kubernetes: {
        ...resolved,
        ...(namespace ? { namespace } : {}),
        ...(labelSelector ? { labelSelector } : {}),
      },
    },
    target: target(ctx, name),
  };
}

/** Go's time.ParseDuration units, for cron's "@every 1m30s". */
const goDurationUnits: Record<string, number> = {
  h: 3_600_000,
  m: 60_000,
  s: 1000,
  ms: 1,
  us: 0.001,
  µs: 0.001,
  ns: 1e-6,
};

function goDurationMs(text: string): number | undefined {
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/g)];
  if (parts.length === 0 || parts.map((part) => part[0]).join('') !== text) return undefined;
  return Math.round(parts.reduce((total, part) => total + Number(part[1]) * goDurationUnits[part[2]!]!, 0));
}

function timeTrigger(ctx: ConvertContext): Spec {
  const name = functionName(ctx);
  const cron = ctx.requireString('cron').trim();
  const method = ctx.string('method');
  if (method && method.toUpperCase() !== 'POST')
    ctx.warn('spec.method', `the hub delivers with POST, not ${method}`);
  const subpath = ctx.string('subpath');
  const every = /^@every\s+(.+)$/.exec(cron);
  let source: Spec;
  if (every) {
    const ms = goDurationMs(every[1]!.trim());
    if (ms === undefined) throw new ConvertError(`spec.cron "${cron}": not a duration`);
    // Fission's @every counts from the timer's start; the hub aligns ticks to the epoch so every replica agrees.
    source = { cron: { every: ms } };
  } else source = { cron: { schedule: cron } };
  return { source, target: target(ctx, name, subpath) };
}

function metadataOf(ctx: ConvertContext): Record<string, string> {
  return (ctx.take('metadata') as Record<string, string> | undefined) ?? {};
}

/** Warns about the KEDA metadata keys a converter did not use. */
function leftoverMetadata(ctx: ConvertContext, metadata: Record<string, string>, used: string[]): void {
  for (const key of Object.keys(metadata))
    if (!used.includes(key))
      ctx.warn(
        `spec.metadata.${key}`,
        'a connector setting with no equivalent in the Trigger: not carried over',
      );
}

function messageQueue(ctx: ConvertContext): Spec {
  const name = functionName(ctx);
  const type = ctx.requireString('messageQueueType');
  const topic = ctx.string('topic');
  const metadata = metadataOf(ctx);
  const retries = ctx.take('maxRetries');
  ctx.drop(
    'respTopic',
    "the hub does not publish the function's answers to a topic; have the function publish them itself",
  );
  ctx.drop(
    'errorTopic',
    "failed deliveries go to the trigger's dead-letter queue (list and replay them), not to a topic",
  );
  ctx.drop(
    'contentType',
    "the function receives the message's own content type (datacontenttype); set spec.target.http.headers if it needs another",
  );
  const scaling =
    'KEDA scaled the connector: the hub scales with its own Deployment (docs/deploy.md), spec.scaling scales the function';
  for (const field of ['pollingInterval', 'cooldownPeriod', 'minReplicaCount', 'maxReplicaCount'])
    ctx.drop(field, scaling);
  ctx.drop('mqtkind', 'the hub itself is the connector: there is no separate mqtrigger or KEDA deployment');
  ctx.drop('podspec', 'there is no connector pod to customise');

  let source: Spec;
  switch (type) {
    case 'kafka': {
      const brokers = (metadata.bootstrapServers ?? metadata.brokerList ?? '')
        .split(',')
        .map((broker) => broker.trim())
        .filter(Boolean);
      if (brokers.length === 0)
        throw new ConvertError('spec.metadata.bootstrapServers is required for a kafka MessageQueueTrigger');
      const kafkaTopic = topic ?? metadata.topic;
      if (!kafkaTopic) throw new ConvertError('spec.topic is required');
      const reset = metadata.offsetResetPolicy;
      source = {
        kafka: {
          brokers,
          topics: [kafkaTopic],
          ...(metadata.consumerGroup ? { groupId: metadata.consumerGroup } : {}),
          ...(reset === 'earliest' || reset === 'latest' ? { startFrom: reset } : {}),
        },
      };
      leftoverMetadata(ctx, metadata, [
        'bootstrapServers',
        'brokerList',
        'consumerGroup',
        'topic',
        'offsetResetPolicy',
      ]);
      ctx.drop(
        'secret',
        'connection secrets become spec.source.kafka.sasl / tls with secret references: fill them in by hand',
      );
      break;
    }
    case 'nats-jetstream': {
      const server = metadata.natsServer ?? metadata.natsserver;
      if (!server)
        ctx.warn(
          'spec.metadata',
          `no NATS server in the metadata: using ${ctx.options.natsUrl} (--nats-url)`,
        );
      if (!metadata.stream) throw new ConvertError('spec.metadata.stream is required for nats-jetstream');
      source = {
        nats: {
          servers: [server ?? ctx.options.natsUrl],
          jetstream: {
            stream: metadata.stream,
            ...(metadata.consumer ? { durable: metadata.consumer } : {}),
            ...(topic ? { filterSubject: topic } : {}),
          },
        },
      };
      leftoverMetadata(ctx, metadata, ['natsServer', 'natsserver', 'stream', 'consumer']);
      ctx.drop(
        'secret',
        'NATS credentials become spec.source.nats.auth with secret references: fill them in by hand',
      );
      break;
    }
    case 'nats-streaming':
    case 'stan': {
      if (!topic) throw new ConvertError('spec.topic is required');
      ctx.warn(
        'spec.messageQueueType',
        'NATS Streaming (STAN) is end-of-life: the trigger subscribes to the core NATS subject; move the stream to JetStream and use spec.source.nats.jetstream for at-least-once',
      );
      source = { nats: { servers: [ctx.options.natsUrl], subject: topic } };
      leftoverMetadata(ctx, metadata, []);
      ctx.drop('secret', 'NATS credentials become spec.source.nats.auth with secret references');
      break;
    }
    case 'aws-kinesis-stream': {
      const stream = metadata.streamName ?? topic;
      if (!stream) throw new ConvertError('spec.metadata.streamName is required for aws-kinesis-stream');
      const secret = ctx.string('secret');
      if (secret)
        ctx.warn(
          'spec.secret',
          `credentials come from Secret ${secret} (keys awsAccessKeyID, awsSecretAccessKey) in cluster mode`,
        );
      source = {
        kinesis: {
          stream,
          ...(metadata.awsRegion ? { region: metadata.awsRegion } : {}),
          ...(metadata.awsEndpoint ? { endpoint: metadata.awsEndpoint } : {}),
          ...(secret
            ? {
                credentials: {
                  accessKeyId: { secretKeyRef: { name: secret, key: 'awsAccessKeyID' } },
                  secretAccessKey: { secretKeyRef: { name: secret, key: 'awsSecretAccessKey' } },
                },
              }
            : {}),
        },
      };
      leftoverMetadata(ctx, metadata, ['streamName', 'awsRegion', 'awsEndpoint']);
      break;
    }
    default:
      throw new ConvertError(
        `spec.messageQueueType "${type}" has no Trigger Hub source (supported: kafka, nats-jetstream, nats-streaming, aws-kinesis-stream)`,
      );
  }
  return {
    source,
    target: target(ctx, name),
    ...(typeof retries === 'number' ? { delivery: { retries } } : {}),
  };
}

function http(ctx: ConvertContext): Spec {
  const name = functionName(ctx);
  const prefix = ctx.string('prefix');
  const relative = ctx.string('relativeurl');
  const raw = prefix ?? relative;
  if (prefix && relative)
    ctx.warn('spec.relativeurl', 'prefix takes precedence (as in Fission): relativeurl is not used');
  const path = raw ? webhookPath(ctx, prefix ? 'spec.prefix' : 'spec.relativeurl', raw) : undefined;
  const methods = [
    ...((ctx.take('methods') as string[] | undefined) ?? []),
    ...(ctx.string('method') ? [ctx.string('method')!] : []),
  ].map((method) => method.toUpperCase());
  const refused = [...new Set(methods.filter((method) => method !== 'POST' && method !== 'PUT'))];
  if (refused.length > 0)
    ctx.warn('spec.methods', `webhooks accept POST and PUT only: ${refused.join(', ')} requests get 400`);
  ctx.warn(
    'spec',
    "an HTTP trigger becomes an asynchronous webhook: callers get 202 once the request is durable, not the function's answer; keep the Fission route for request/response traffic",
  );
  ctx.drop('keepPrefix', 'no equivalent: the function is always called at its router URL');
  ctx.drop('host', 'the hub serves /webhooks/ itself: route a host to it with your own Ingress');
  ctx.drop('createingress', 'the hub serves /webhooks/ itself: create an Ingress for the hub Service');
  ctx.drop('ingressconfig', 'the hub serves /webhooks/ itself: create an Ingress for the hub Service');
  ctx.drop('corsConfig', 'webhooks do not answer CORS preflights');
  return { source: { webhook: { ...(path ? { path } : {}) } }, target: target(ctx, name) };
}

export const fissionConverters: Record<string, (ctx: ConvertContext) => Spec> = {
  KubernetesWatchTrigger: kubernetesWatch,
  TimeTrigger: timeTrigger,
  MessageQueueTrigger: messageQueue,
  HTTPTrigger: http,
};
