// Kubeless triggers (kubeless.io/v1beta1). Kubeless is archived; its trigger controllers invoked the
// function's Service (port 8080) with the message as the body and event-id/-type/-time/-namespace headers,
// which the http target's `compatibility: kubeless` sends too.

import { type ConvertContext, ConvertError } from './context.ts';

type Spec = Record<string, unknown>;

function functionUrl(ctx: ConvertContext, name: string): string {
  return `http://${name}.${ctx.namespace}.svc.cluster.local:${ctx.options.kubelessPort}/`;
}

function target(ctx: ConvertContext, functionName: string): Spec {
  return { http: { url: functionUrl(ctx, functionName), compatibility: 'kubeless' } };
}

/** KafkaTrigger and NATSTrigger pick functions by label; Kubeless labels each function `function: <name>`. */
function selectedFunction(ctx: ConvertContext): string {
  const selector = ctx.take('functionSelector') as
    | { matchLabels?: Record<string, string>; matchExpressions?: unknown[] }
    | undefined;
  const name = selector?.matchLabels?.function;
  if (!name)
    throw new ConvertError(
      'spec.functionSelector has no matchLabels.function: a Trigger delivers to one function, so say which (label the selector with function: <name>)',
    );
  const others = Object.keys(selector.matchLabels ?? {}).filter(
    (label) => label !== 'function' && label !== 'created-by',
  );
  if (others.length > 0 || (selector.matchExpressions?.length ?? 0) > 0)
    ctx.warn(
      'spec.functionSelector',
      `only the function label (${name}) is used: a Trigger has one target, the other selector terms are not carried over`,
    );
  return name;
}

function kafka(ctx: ConvertContext): Spec {
  const topic = ctx.requireString('topic');
  const functionName = selectedFunction(ctx);
  ctx.warn(
    'spec',
    `a KafkaTrigger does not name its brokers (the Kubeless controller's KAFKA_BROKERS did): using ${ctx.options.kafkaBrokers.join(',')} (--kafka-brokers)`,
  );
  ctx.warn(
    'spec',
    'the consumer group is new (trigger-hub.<namespace>.<name>) and starts at the latest offset; set spec.source.kafka.groupId to the Kubeless group to continue from its committed offsets',
  );
  return {
    source: { kafka: { brokers: ctx.options.kafkaBrokers, topics: [topic] } },
    target: target(ctx, functionName),
  };
}

function nats(ctx: ConvertContext): Spec {
  const subject = ctx.requireString('topic');
  const functionName = selectedFunction(ctx);
  ctx.warn(
    'spec',
    `a NATSTrigger does not name its server (the Kubeless controller's NATS_URL did): using ${ctx.options.natsUrl} (--nats-url)`,
  );
  return {
    source: { nats: { servers: [ctx.options.natsUrl], subject } },
    target: target(ctx, functionName),
  };
}

function kinesis(ctx: ConvertContext): Spec {
  const functionName = ctx.requireString('function-name');
  const stream = ctx.requireString('stream');
  const region = ctx.string('aws-region');
  const endpoint = ctx.string('endpoint');
  const secret = ctx.string('secret');
  if (ctx.take('shard') !== undefined)
    ctx.warn(
      'spec.shard',
      'the hub reads every shard of the stream (shards are leased between hub replicas), not one shard',
    );
  if (secret)
    ctx.warn(
      'spec.secret',
      `credentials come from Secret ${secret} (keys aws_access_key_id, aws_secret_access_key) in cluster mode; in standalone mode replace them with env or file references`,
    );
  return {
    source: {
      kinesis: {
        stream,
        ...(region ? { region } : {}),
        ...(endpoint ? { endpoint } : {}),
        ...(secret
          ? {
              credentials: {
                accessKeyId: { secretKeyRef: { name: secret, key: 'aws_access_key_id' } },
                secretAccessKey: { secretKeyRef: { name: secret, key: 'aws_secret_access_key' } },
              },
            }
          : {}),
        // Kubeless started a shard at LATEST too.
        startingPosition: 'LATEST',
      },
    },
    target: target(ctx, functionName),
  };
}

function cronJob(ctx: ConvertContext): Spec {
  const functionName = ctx.requireString('function-name');
  const schedule = ctx.requireString('schedule');
  const payload = ctx.take('payload');
  return {
    source: { cron: { schedule, ...(payload !== undefined ? { data: payload } : {}) } },
    target: target(ctx, functionName),
  };
}

function http(ctx: ConvertContext): Spec {
  const functionName = ctx.requireString('function-name');
  const rawPath = ctx.string('path');
  const path = rawPath ? webhookPath(ctx, 'spec.path', rawPath) : undefined;
  ctx.warn(
    'spec',
    "an HTTP trigger becomes an asynchronous webhook: callers get 202 once the request is durable, not the function's answer; keep a direct route for request/response traffic",
  );
  const ingress = 'the hub serves /webhooks/ itself: put your own Ingress in front of it for';
  ctx.drop('host-name', `${ingress} a host name`);
  ctx.drop('tls', `${ingress} TLS`);
  ctx.drop('tls-secret', `${ingress} TLS`);
  ctx.drop('gateway', `${ingress} a gateway class`);
  ctx.drop('ingress-enabled', `${ingress} ingress`);
  ctx.drop('route-name', `${ingress} routes`);
  ctx.drop(
    'cors-enable',
    'webhooks do not answer CORS preflights (they are meant for servers, not browsers)',
  );
  ctx.drop(
    'basic-auth-secret',
    'webhooks authenticate with a bearer token or an HMAC signature (spec.source.webhook.auth), not basic auth',
  );
  return {
    source: { webhook: { ...(path ? { path } : {}) } },
    target: target(ctx, functionName),
  };
}

/** A URL path as a webhook path (segments of [A-Za-z0-9._~-]); segments that cannot be kept are dropped. */
export function webhookPath(ctx: ConvertContext, field: string, raw: string): string | undefined {
  const segments = raw.split('/').filter((segment) => segment !== '');
  const kept = segments.filter((segment) => /^[A-Za-z0-9._~-]+$/.test(segment));
  if (kept.length !== segments.length)
    ctx.warn(
      field,
      `path parameters and special characters are not supported in webhook paths: "${raw}" becomes "${kept.join('/') || '<namespace>/<name>'}"`,
    );
  return kept.length > 0 ? kept.join('/') : undefined;
}

export const kubelessConverters: Record<string, (ctx: ConvertContext) => Spec> = {
  KafkaTrigger: kafka,
  NATSTrigger: nats,
  KinesisTrigger: kinesis,
  CronJobTrigger: cronJob,
  HTTPTrigger: http,
};
