// Redis away while the hub starts. First, a Redis crash in the moment a trigger's queue is being opened must
// not break that queue for good. BullMQ
// opens a queue's connection once (it waits for "ready", then, unless told not to, reads INFO for a version
// check) and keeps the outcome: when that first round trip fails, every later command of the queue fails
// with the same error. On a producer connection (fails fast, src/queue/redis.ts) a Redis restart at that
// moment made the hub answer 503 until it was restarted itself; seen in CI as the MinIO "Redis unavailable"
// test delivering nothing for 180 s. Then a whole hub started before its Redis (a pod scheduled before
// Redis is up): it serves, says it is not ready, and works once Redis comes. Against a private Redis.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterEach, expect, it } from 'vitest';
import { createInstance, type Instance } from '../../../scripts/services/instance.ts';
import { EventQueue } from '../../../src/queue/event-queue.ts';
import type { EventJobData } from '../../../src/queue/job.ts';
import { OrderedQueue } from '../../../src/queue/ordered-queue.ts';
import { createRedis, type RedisClient, readyWithin } from '../../../src/queue/redis.ts';
import type { TriggerRef } from '../../../src/sensor/sensor.ts';
import { deliverySchema } from '../../../src/trigger/schema.ts';
import { startTestHub, triggerDoc, uniqueNamespace } from '../../support/hub.ts';
import { post } from '../../support/post.ts';
import { startSink } from '../../support/sink.ts';
import { waitFor } from '../../support/wait.ts';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A private Redis, not started yet. */
async function privateRedis(): Promise<Instance> {
  const dir = mkdtempSync(join(tmpdir(), 'th-redis-at-start-'));
  const redis = await createInstance('redis', dir, 'at-start');
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => redis.stop());
  return redis;
}

/** Retries `enqueue` until it succeeds or `ms` pass; the last error otherwise. */
async function enqueueWithin(queue: EventQueue, id: string, ms: number): Promise<unknown> {
  let failure: unknown;
  const enqueued = async () => {
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
      failure = undefined;
      return true;
    } catch (error) {
      failure = error;
      return false;
    }
  };
  await waitFor(enqueued, ms, 'an enqueue to succeed', { intervalMs: 250 }).catch(() => {});
  return failure;
}

it('a queue opened while Redis crashes enqueues once Redis is back', async () => {
  const redis = await privateRedis();
  await redis.start();
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

/** Leaves events in key FIFOs, as a trigger that had per-key ordering does (its heads become jobs). */
async function leaveOrderedBacklog(url: string, trigger: TriggerRef, events: EventJobData[]): Promise<void> {
  const connection = createRedis({ url }, 'producer');
  connection.on('error', () => {});
  try {
    expect(await readyWithin(connection, 10_000)).toBe(true);
    const ordering = { mode: 'per-key', key: 'partitionkey' } as const;
    const queue = new EventQueue(trigger, connection, deliverySchema.parse({ ordering }));
    const log = pino({ level: 'silent' });
    await new OrderedQueue({ trigger, connection, events: queue, ordering, log }).enqueue(events);
    await queue.close();
  } finally {
    connection.disconnect();
  }
}

it('a hub started before its Redis answers 503 and is not ready, then delivers webhooks, cron ticks and an ordered backlog once Redis is up', async () => {
  const redis = await privateRedis();
  const sink = await startSink();
  cleanups.push(() => sink.close());
  const ns = uniqueNamespace('nored');
  // The webhook trigger had per-key ordering before: 2 keys × 3 events wait in Redis (4 of them in key FIFOs,
  // which only the hub's check at trigger start queues again). Then Redis goes away before the hub starts.
  const backlog = ['a', 'b'].flatMap((key) =>
    [0, 1, 2].map((seq) => ({
      event: {
        specversion: '1.0' as const,
        id: `backlog/${key}/${seq}`,
        source: '/test',
        type: 'test.backlog',
        time: new Date().toISOString(),
        partitionkey: key,
      },
    })),
  );
  await redis.start();
  await leaveOrderedBacklog(redis.url, { namespace: ns, name: 'hook', key: `${ns}/hook` }, backlog);
  await redis.stop();

  const hub = await startTestHub(
    [
      triggerDoc(ns, 'hook', { source: { webhook: {} }, target: { http: { url: sink.url } } }),
      triggerDoc(ns, 'tick', {
        source: { cron: { schedule: '*/1 * * * * *' } },
        target: { http: { url: sink.url } },
      }),
    ],
    { redisUrl: redis.url },
  );
  cleanups.push(() => hub.close());
  const hook = `${hub.url}/webhooks/${ns}/hook`;

  const refused = await post(hook, '{"n":0}');
  expect(refused.status).toBe(503);
  expect(refused.json()).toMatchObject({
    code: 'TH_ERR_QUEUE_UNAVAILABLE',
    message: expect.stringContaining('Redis is not connected'),
  });
  const notReady = await fetch(`${hub.url}/readyz`);
  expect(notReady.status).toBe(503);
  expect(await notReady.json()).toMatchObject({ redis: 'unreachable' });

  await redis.start();
  await waitFor(async () => (await fetch(`${hub.url}/readyz`)).status === 200, 30_000, 'the hub to be ready');
  await waitFor(async () => (await post(hook, '{"n":1}')).status === 202, 30_000, 'a webhook to be accepted');
  const ticks = () => sink.received.filter((entry) => entry.headers['ce-type'] === 'io.triggerhub.cron.tick');
  await sink.waitFor(
    () =>
      sink.received.some((entry) => entry.body.toString() === '{"n":1}') &&
      ticks().length >= 2 &&
      backlog.every(({ event }) => sink.delivered.has(event.id)),
    30_000,
    'the webhook event, two cron ticks and the ordered backlog',
  );
});
