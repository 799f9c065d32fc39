import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { serviceEnv } from '../../setup/env.ts';

describe('redis (real redis-server on the project port)', () => {
  const redis = new Redis(serviceEnv('TH_REDIS_URL').TH_REDIS_URL, { maxRetriesPerRequest: 2 });
  afterAll(() => redis.quit());

  it('stores and reads a value', async () => {
    const key = `smoke:${randomUUID()}`;
    await redis.set(key, 'hello', 'EX', 60);
    expect(await redis.get(key)).toBe('hello');
  });

  it('runs with AOF on and noeviction, as BullMQ requires', async () => {
    expect(await redis.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
    expect(await redis.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
  });
});
