// A Redis crash in the moment a trigger's queue is being opened must not break that queue for good. BullMQ
// opens a queue's connection once (it waits for "ready", then, unless told not to, reads INFO for a version
// check) and keeps the outcome: when that first round trip fails, every later command of the queue fails
// with the same error. On a producer connection (fails fast, src/queue/redis.ts) a Redis restart at that
// moment made the hub answer 503 until it was restarted itself; seen in CI as the MinIO "Redis unavailable"
// test delivering nothing for 180 s. Against a private Redis, killed and restarted.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, expect, it } from 'vitest';
import { createInstance, type Instance } from '../../../scripts/services/instance.ts';
import { EventQueue } from '../../../src/queue/event-queue.ts';
import { createRedis, type RedisClient, readyWithin } from '../../../src/queue/redis.ts';
import { deliverySchema } from '../../../src/trigger/schema.ts';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function privateRedis(): Promise<Instance> {
  const dir = mkdtempSync(join(tmpdir(), 'th-redis-crash-'));
  const redis = await createInstance('redis', dir, 'crash-at-start');
  await redis.start();
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => redis.stop());
  return redis;
}

/** Retries `enqueue` until it succeeds or `ms` pass; the last error otherwise. */
async function enqueueWithin(queue: EventQueue, id: string, ms: number): Promise<unknown> {
  const deadline = Date.now() + ms;
  let failure: unknown;
  while (Date.now() < deadline) {
    try {
      await queue.enqueue([
        {
          event: {
            specversion: '1.0',
            id,
            source: '/test',
            type: 'test.crash',
            time: new Date().toISOString(),
          },
        },
      ]);
      return undefined;
    } catch (error) {
      failure = error;
      await sleep(250);
    }
  }
  return failure;
}

it('a queue opened while Redis crashes enqueues once Redis is back', async () => {
  const redis = await privateRedis();
  const producer: RedisClient = createRedis({ url: redis.url }, 'producer');
  producer.on('error', () => {});
  cleanups.push(() => producer.disconnect());
  expect(await readyWithin(producer, 10_000)).toBe(true);

  // Hold every command, so the queue's first round trip is still unanswered when Redis dies.
  const admin = new Redis(redis.url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
  admin.on('error', () => {});
  await admin.call('CLIENT', 'PAUSE', '30000', 'ALL');
  admin.disconnect();

  const queue = new EventQueue(
    { namespace: 'crash', name: 'at-start', key: 'crash/at-start' },
    producer,
    deliverySchema.parse({}),
  );
  cleanups.push(() => queue.close());
  await sleep(300);
  await redis.kill();
  // Down long enough for the producer's reconnects to give up on what was in flight (maxRetriesPerRequest).
  await sleep(2000);
  await redis.start();
  expect(await readyWithin(producer, 10_000)).toBe(true);

  expect(await enqueueWithin(queue, 'crash/1', 15_000)).toBeUndefined();
  expect(await queue.queue.getJobCounts('waiting')).toEqual({ waiting: 1 });
});
