import { isRedisVersionLowerThan, RedisConnection } from 'bullmq';
import { Cluster, type ClusterNode, Redis, type RedisOptions } from 'ioredis';
import { HubError } from '../errors.ts';
import type { RedisClient } from '../interfaces/redis-client.ts';

export type { RedisClient };

export interface RedisSettings {
  /** redis://, rediss:// or unix:///path/to/socket */
  url?: string;
  /** host:port seeds of a Redis Cluster; takes precedence over `url`. */
  clusterNodes?: string[];
  /** For cluster nodes (a URL carries its own). */
  password?: string;
}

/**
 * Producer connections fail fast when Redis is away (no offline queue), so a webhook answers 503 at once
 * instead of hanging; worker connections wait forever, as BullMQ's blocking commands require.
 */
export function createRedis(settings: RedisSettings, purpose: 'producer' | 'worker'): RedisClient {
  const options: RedisOptions = {
    maxRetriesPerRequest: purpose === 'worker' ? null : 1,
    enableOfflineQueue: purpose === 'worker',
    connectionName: `trigger-hub-${purpose}`,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  };
  if (settings.clusterNodes?.length) {
    const nodes: ClusterNode[] = settings.clusterNodes.map((node) => {
      const [host, port] = node.trim().split(':');
      if (!host || !port || Number.isNaN(Number(port)))
        throw new HubError('TH_ERR_CONFIG', `REDIS_CLUSTER_NODES: "${node}" is not host:port`);
      return { host, port: Number(port) };
    });
    return new Cluster(nodes, {
      redisOptions: { ...options, ...(settings.password ? { password: settings.password } : {}) },
      // A Cluster client without its offline queue refuses every command until it has read the slot map,
      // so the first requests after a start would fail; the emit's own 5 s limit still bounds the wait.
      enableOfflineQueue: true,
      clusterRetryStrategy: (times) => Math.min(times * 200, 2000),
    });
  }
  const url = settings.url;
  if (!url) throw new HubError('TH_ERR_CONFIG', 'no Redis configured: set REDIS_URL or REDIS_CLUSTER_NODES');
  if (url.startsWith('unix://')) return new Redis({ ...options, path: new URL(url).pathname });
  if (!/^rediss?:\/\//.test(url))
    throw new HubError('TH_ERR_CONFIG', 'REDIS_URL must start with redis://, rediss:// or unix://');
  return new Redis(url, options);
}

/** The URL without its password, for logs. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable REDIS_URL)';
  }
}

/** A new connection with the same settings (for a component that must not share the hub's). */
export function duplicateRedis(client: RedisClient): RedisClient {
  return client instanceof Cluster ? client.duplicate() : client.duplicate();
}

/** Resolves once the client is connected, or after `ms` (a Redis that is away must not block start-up). */
export function readyWithin(client: RedisClient, ms: number): Promise<boolean> {
  if (client.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ready: boolean) => {
      clearTimeout(timer);
      client.off('ready', onReady);
      resolve(ready);
    };
    const onReady = () => done(true);
    const timer = setTimeout(() => done(false), ms);
    client.on('ready', onReady);
  });
}

/**
 * Fails with TH_ERR_CONFIG on a Redis older than BullMQ needs. BullMQ's own check runs as each queue opens
 * and is skipped on the producer's queues (src/queue/producer-queue.ts says why), so the hub checks once.
 */
export async function checkRedisVersion(client: RedisClient): Promise<void> {
  // Redis gone again already: nothing to check now, and the emits say Redis is away.
  const problem = redisVersionProblem(await client.info('server').catch(() => ''));
  if (problem) throw new HubError('TH_ERR_CONFIG', problem);
}

/** What is wrong with the Redis whose `INFO server` this is, if anything (an unknown version passes). */
export function redisVersionProblem(info: string): string | undefined {
  const version = /^redis_version:(\S+)/m.exec(info)?.[1];
  const minimum = RedisConnection.minimumVersion;
  return version && isRedisVersionLowerThan(version, minimum, 'redis')
    ? `Redis ${version} is too old: BullMQ needs ${minimum} or newer`
    : undefined;
}
