import { Redis, type RedisOptions } from 'ioredis';
import { HubError } from '../errors.ts';

export interface RedisSettings {
  /** redis://, rediss:// or unix:///path/to/socket */
  url: string;
}

/**
 * Producer connections fail fast when Redis is away (no offline queue), so a webhook answers 503 at once
 * instead of hanging; worker connections wait forever, as BullMQ's blocking commands require.
 */
export function createRedis(settings: RedisSettings, purpose: 'producer' | 'worker'): Redis {
  const options: RedisOptions = {
    maxRetriesPerRequest: purpose === 'worker' ? null : 1,
    enableOfflineQueue: purpose === 'worker',
    connectionName: `trigger-hub-${purpose}`,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  };
  if (settings.url.startsWith('unix://'))
    return new Redis({ ...options, path: new URL(settings.url).pathname });
  if (!/^rediss?:\/\//.test(settings.url))
    throw new HubError('TH_ERR_CONFIG', 'REDIS_URL must start with redis://, rediss:// or unix://');
  return new Redis(settings.url, options);
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
