// Assembles a hub: Redis (given or local), the engine, the HTTP server, metrics. The CLI's `run` and the
// tests both start hubs through here.

import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { type Logger, pino } from 'pino';
import { BackfillManager } from './backfill/manager.ts';
import type { HubConfig, TlsFiles } from './config.ts';
import { DispatchWaker } from './dispatch/waker.ts';
import { Engine } from './engine/engine.ts';
import { HubError } from './errors.ts';
import { Instrumentation } from './instrumentation.ts';
import { createMetrics } from './metrics.ts';
import { queueStats } from './queue/queue-stats.ts';
import {
  checkRedisVersion,
  createRedis,
  duplicateRedis,
  type RedisClient,
  type RedisSettings,
  readyWithin,
  redactRedisUrl,
} from './queue/redis.ts';
import { buildServer } from './server/server.ts';
import { WebhookRouteTable } from './server/webhook-routes.ts';
import { type LocalRedis, startLocalRedis } from './standalone/local-redis.ts';

export interface Hub {
  engine: Engine;
  backfills: BackfillManager;
  server: FastifyInstance;
  instrumentation: Instrumentation;
  log: Logger;
  /** Where Redis is, for logs and child processes: a URL, or `cluster:<seeds>`. */
  redisUrl: string;
  /** The hub's producer connection (fails fast when Redis is away), for components beside the engine. */
  redis: RedisClient;
  /** The address the HTTP server listens on, e.g. http://127.0.0.1:7480 */
  url: string;
  close(): Promise<void>;
}

export interface HubOptions {
  config: HubConfig;
  log?: Logger;
  /** Deliver events in this process (default true). */
  dispatch?: boolean;
}

export function createLogger(level: string): Logger {
  return pino({
    level,
    // Belt and braces: whatever a log call is handed, these never reach the output.
    redact: {
      paths: ['*.authorization', '*.password', '*.token', '*.secret', 'headers.authorization'],
      censor: '***',
    },
  });
}

function readTlsFiles(files: TlsFiles): { cert: Buffer; key: Buffer; clientCa?: Buffer } {
  const read = (name: string, path: string) => {
    try {
      return readFileSync(path);
    } catch (error) {
      throw new HubError('TH_ERR_CONFIG', `${name} ${path} cannot be read`, { cause: error });
    }
  };
  return {
    cert: read('TH_TLS_CERT_FILE', files.certFile),
    key: read('TH_TLS_KEY_FILE', files.keyFile),
    ...(files.clientCaFile ? { clientCa: read('TH_TLS_CLIENT_CA_FILE', files.clientCaFile) } : {}),
  };
}

export async function startHub(options: HubOptions): Promise<Hub> {
  const { config } = options;
  const log = options.log ?? createLogger(config.logLevel);
  let localRedis: LocalRedis | undefined;
  const cluster = config.redisClusterNodes?.length ? config.redisClusterNodes : undefined;
  if (!config.redisUrl && !cluster) localRedis = await startLocalRedis(config.dataDir, log);
  const settings: RedisSettings = cluster
    ? { clusterNodes: cluster, ...(config.redisPassword ? { password: config.redisPassword } : {}) }
    : { url: config.redisUrl ?? localRedis!.url };
  const redisUrl = cluster ? `cluster:${cluster.join(',')}` : settings.url!;
  log.info({ redis: redactRedisUrl(redisUrl) }, 'using Redis');

  const producer = createRedis(settings, 'producer');
  const workerConnection = createRedis(settings, 'worker');
  producer.on('error', () => {}); // surfaced by emits (503) and /readyz
  workerConnection.on('error', () => {});
  // Serve once Redis answers, so the first requests do not race the connection; if it is away, serve
  // anyway (webhooks answer 503, /readyz says why) rather than hang.
  if (await readyWithin(producer, 5000)) await checkRedisVersion(producer);
  else log.warn('Redis is not reachable yet; serving anyway (webhooks answer 503)');

  const instrumentation = new Instrumentation();
  const webhooks = new WebhookRouteTable();
  const dispatch = options.dispatch ?? true;
  // Lazy dispatch blocks on many queues' keys in one call: one node only, so not on a Redis Cluster.
  const waker =
    dispatch && !cluster && config.dispatchIdleMs > 0
      ? new DispatchWaker(duplicateRedis(workerConnection) as Redis, log)
      : undefined;
  const engine = new Engine(
    {
      producer,
      workerConnection,
      webhooks,
      instrumentation,
      log,
      dispatch,
      ...(waker ? { waker, dispatchIdleMs: config.dispatchIdleMs } : {}),
    },
    { stopDeadlineMs: config.shutdownDeadlineMs },
  );
  const backfills = new BackfillManager({
    engine,
    producer,
    workerConnection,
    instrumentation,
    log,
    run: options.dispatch ?? true,
    stopDeadlineMs: config.shutdownDeadlineMs,
  });
  const metrics = createMetrics(instrumentation, {
    queueStats: () =>
      Promise.all(
        engine
          .list()
          .filter((state) => state.running)
          .map(async (state) => ({
            trigger: state.key,
            stats: await queueStats(state.running!.queue.queue),
          })),
      ),
  });
  const server = buildServer({
    log,
    engine,
    backfills,
    instrumentation,
    webhooks,
    metrics,
    apiToken: config.apiToken,
    maxBodyBytes: config.maxBodyBytes,
    ...(config.tls ? { tls: readTlsFiles(config.tls) } : {}),
    ready: async () => (await producer.ping()) === 'PONG',
  });
  const url = await server.listen({ host: config.host, port: config.port });
  log.info({ url }, 'trigger hub listening');

  // Backfills that were running when this hub (or another) stopped resume now, from their cursors.
  if (options.dispatch ?? true) void backfills.scan();

  return {
    engine,
    backfills,
    server,
    instrumentation,
    log,
    redisUrl,
    redis: producer,
    url,
    async close() {
      await server.close();
      await backfills.close();
      await engine.stop();
      await waker?.close();
      producer.disconnect();
      workerConnection.disconnect();
      await localRedis?.stop();
    },
  };
}
