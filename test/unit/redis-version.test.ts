// The hub checks the Redis version once at start (BullMQ's per-queue check is skipped on its producer queues).

import { describe, expect, it } from 'vitest';
import { redisVersionProblem } from '../../src/queue/redis.ts';

const info = (version: string) => `# Server\r\nredis_version:${version}\r\nredis_mode:standalone\r\n`;

describe('redisVersionProblem', () => {
  it('names a Redis older than BullMQ needs, and the minimum', () => {
    expect(redisVersionProblem(info('4.0.14'))).toBe('Redis 4.0.14 is too old: BullMQ needs 5.0.0 or newer');
  });

  it('passes the minimum and newer versions', () => {
    for (const version of ['5.0.0', '6.2.14', '7.0.15', '10.1.0'])
      expect(redisVersionProblem(info(version))).toBeUndefined();
  });

  it('passes an INFO without a version (nothing to judge)', () => {
    expect(redisVersionProblem('')).toBeUndefined();
    expect(redisVersionProblem('# Server\r\nredis_mode:standalone\r\n')).toBeUndefined();
  });
});
