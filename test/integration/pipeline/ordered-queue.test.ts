// Per-key ordered delivery at the queue level, against the stack's Redis: re-emits neither block a key nor
// deliver twice, and what a crash can leave between two steps (a head without a job, a finished head not
// popped) is repaired when a hub starts. Also on the Redis Cluster (TH_SERVICES=redis,redis-cluster). The Kafka
// end-to-end tests are in ordered-delivery.test.ts.

import { Worker } from 'bullmq';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { HubEvent } from '../../../src/envelope/event.ts';
import type { Hub } from '../../../src/hub.ts';
import { EventQueue } from '../../../src/queue/event-queue.ts';
import type { EventJobData } from '../../../src/queue/job.ts';
import { keyPrefix, orderedKeys, queueName } from '../../../src/queue/keys.ts';
import { OrderedQueue } from '../../../src/queue/ordered-queue.ts';
import { createRedis, readyWithin } from '../../../src/queue/redis.ts';
import { deliverySchema } from '../../../src/trigger/schema.ts';
import { redisUrl, startTestHub, triggerDoc, uniqueNamespace } from '../../support/hub.ts';
import { type Sink, startSink } from '../../support/sink.ts';

// A producer connection, like the hub's: it fails fast, so wait until it is up.
const redis = createRedis({ url: redisUrl() }, 'producer');
beforeAll(() => readyWithin(redis, 10_000));
afterAll(() => redis.disconnect());

const ordering = { mode: 'per-key', key: 'partitionkey' } as const;

function event(key: string, seq: number): EventJobData {
  const hubEvent: HubEvent = {
    specversion: '1.0',
    id: `test/${key}/${seq}`,
    source: '/test',
    type: 'test.ordered',
    time: new Date().toISOString(),
    partitionkey: key,
    data: { key, seq },
  };
  return { event: hubEvent };
}

function events(keys: string[], from: number, to: number): EventJobData[] {
  const out: EventJobData[] = [];
  for (let seq = from; seq < to; seq++) for (const key of keys) out.push(event(key, seq));
  return out;
}

/** Per key, the sequence numbers the sink answered 2xx, in arrival order. */
function deliveredByKey(sink: Sink): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const request of sink.received) {
    if (!request.id || !sink.delivered.has(request.id)) continue;
    const { key, seq } = JSON.parse(request.body.toString()) as { key: string; seq: number };
    out.set(key, [...(out.get(key) ?? []), seq]);
  }
  return out;
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

async function pendingInRedis(key: string): Promise<number> {
  const keys = orderedKeys({ key });
  return (await redis.hlen(keys.events)) + (await redis.scard(keys.keys));
}

describe('ordered queue', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const close of cleanup.splice(0).reverse()) await close();
  });

  async function orderedHub(
    ns: string,
    sink: Sink,
    delivery: Record<string, unknown> = {},
    names = ['fn'],
    config: Parameters<typeof startTestHub>[1] = {},
  ): Promise<Hub> {
    const hub = await startTestHub(
      names.map((name) =>
        triggerDoc(ns, name, {
          source: { webhook: {} },
          target: { http: { url: sink.url } },
          delivery: { ordering, retries: 3, backoff: { initialMs: 100, maxMs: 500 }, ...delivery },
        }),
      ),
      config,
    );
    cleanup.push(() => hub.close());
    return hub;
  }

  it('re-emitted events (delivered, in flight, waiting in a key) neither block their key nor arrive twice', async () => {
    const sink = await startSink({ respond: () => ({ status: 200, delayMs: 5 }) });
    cleanup.push(() => sink.close());
    const ns = uniqueNamespace('ord');
    const hub = await orderedHub(ns, sink);
    const queue = hub.engine.get(`${ns}/fn`)!.running!.queue;
    expect(queue).toBeInstanceOf(OrderedQueue);
    const keys = ['a', 'b', 'c', 'd'];
    const all = events(keys, 0, 40);
    await queue.enqueue(all.slice(0, 80));
    // Re-emit while the first ones are delivered, in flight and waiting, then everything once more.
    await sink.waitFor(() => sink.delivered.size >= 8, 30_000, 'the first deliveries');
    await queue.enqueue(all.slice(0, 120));
    await queue.enqueue(all);
    await queue.enqueue(all.slice(100));
    await sink.waitFor(() => sink.delivered.size === all.length, 60_000, 'every event delivered');
    // Every key drained: nothing left behind in its FIFO.
    for (let i = 0; (await pendingInRedis(`${ns}/fn`)) > 0; i++) {
      if (i > 100) throw new Error('key FIFOs not drained');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect([...sink.counts.values()].every((count) => count === 1)).toBe(true);
    const byKey = deliveredByKey(sink);
    for (const key of keys) expect(byKey.get(key)).toEqual(range(0, 40));
  });

  it('a hub that starts repairs what a crash left: heads without a job, finished heads not moved on', async () => {
    const ns = uniqueNamespace('ord');
    const trigger = { namespace: ns, name: 'fn', key: `${ns}/fn` };
    const delivery = deliverySchema.parse({ ordering });
    const events1 = new EventQueue(trigger, redis, delivery);
    cleanup.push(() => events1.close());
    const log = pino({ level: 'silent' });
    // Keys a-c: stored and their heads queued, as an emit does.
    await new OrderedQueue({ trigger, connection: redis, events: events1, ordering, log }).enqueue(
      events(['a', 'b', 'c'], 0, 5),
    );
    // Key d: stored, but the process "dies" before its head is queued.
    const dying = {
      queue: events1.queue,
      enqueue: () => Promise.reject(new Error('SIGKILL')),
      close: () => Promise.resolve(),
    } as unknown as EventQueue;
    await expect(
      new OrderedQueue({ trigger, connection: redis, events: dying, ordering, log }).enqueue(
        events(['d'], 0, 5),
      ),
    ).rejects.toThrow('SIGKILL');
    // Heads a/0, b/0, c/0 are delivered by a worker that "dies" before moving their keys on.
    const finished: string[] = [];
    const bare = new Worker<EventJobData>(
      queueName(trigger),
      async (job) => {
        finished.push(job.data.event.id);
      },
      { connection: createRedis({ url: redisUrl() }, 'worker'), prefix: keyPrefix },
    );
    const deadline = Date.now() + 30_000;
    while (finished.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await bare.close();
    expect(finished.sort()).toEqual(['test/a/0', 'test/b/0', 'test/c/0']);
    expect(await redis.hlen(orderedKeys(trigger).events)).toBe(20);

    const sink = await startSink();
    cleanup.push(() => sink.close());
    await orderedHub(ns, sink);
    await sink.waitFor(() => sink.delivered.size === 17, 60_000, 'the 17 events not yet delivered');
    const byKey = deliveredByKey(sink);
    for (const key of ['a', 'b', 'c']) expect(byKey.get(key)).toEqual(range(1, 5));
    expect(byKey.get('d')).toEqual(range(0, 5));
    expect(sink.received.length).toBe(17);
  });

  it('switching ordering off queues the events left in key FIFOs: nothing is lost', async () => {
    const ns = uniqueNamespace('ord');
    const trigger = { namespace: ns, name: 'fn', key: `${ns}/fn` };
    const delivery = deliverySchema.parse({ ordering });
    const events1 = new EventQueue(trigger, redis, delivery);
    cleanup.push(() => events1.close());
    const log = pino({ level: 'silent' });
    await new OrderedQueue({ trigger, connection: redis, events: events1, ordering, log }).enqueue(
      events(['a', 'b'], 0, 10),
    );
    const sink = await startSink();
    cleanup.push(() => sink.close());
    await orderedHub(ns, sink, { ordering: { mode: 'none' } });
    await sink.waitFor(() => sink.delivered.size === 20, 60_000, 'all 20 events');
    expect(await pendingInRedis(`${ns}/fn`)).toBe(0);
  });

  it('works the same on a Redis Cluster: every trigger keeps its FIFOs in its own slot', async () => {
    const nodes = process.env.TH_REDIS_CLUSTER_NODES;
    if (!nodes)
      throw new Error('TH_REDIS_CLUSTER_NODES is not set: run with TH_SERVICES=redis,redis-cluster');
    const sink = await startSink();
    cleanup.push(() => sink.close());
    const ns = uniqueNamespace('ord-cluster');
    const names = ['alpha', 'beta', 'gamma'];
    const hub = await orderedHub(ns, sink, {}, names, {
      redisUrl: undefined,
      redisClusterNodes: nodes.split(','),
    });
    const keys = ['a', 'b', 'c'];
    const perTrigger = (name: string) =>
      events(keys, 0, 20).map(({ event }) => ({ event: { ...event, id: `${name}/${event.id}` } }));
    for (const name of names) {
      const queue = hub.engine.get(`${ns}/${name}`)!.running!.queue;
      await queue.enqueue(perTrigger(name));
      await queue.enqueue(perTrigger(name)); // a re-emit: no-ops
    }
    const total = names.length * keys.length * 20;
    await sink.waitFor(() => sink.delivered.size === total, 90_000, `${total} deliveries`);
    expect(sink.received.length).toBe(total);
    const seqs = new Map<string, number[]>();
    for (const request of sink.received) {
      const { key, seq } = JSON.parse(request.body.toString()) as { key: string; seq: number };
      const trigger = request.id!.split('/')[0]!;
      seqs.set(`${trigger}/${key}`, [...(seqs.get(`${trigger}/${key}`) ?? []), seq]);
    }
    expect(seqs.size).toBe(names.length * keys.length);
    for (const [key, list] of seqs) expect(list, key).toEqual(range(0, 20));
  });
});
