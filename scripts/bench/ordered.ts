// What per-key ordering costs: events/s from emit to a 2xx at a local function, ordered (16 keys by
// default) vs unordered, in one hub process on the service stack's Redis. Events are emitted in batches of
// 1,000 (what a Kafka fetch gives) while the dispatcher delivers; the clock stops at the last 2xx.
//   node scripts/bench/ordered.ts [events=10000] [keys=16] [concurrency=32]
// Needs the stack's Redis (`npm run services -- up redis`). Leaves no keys behind (its own queues only).

import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { configFromEnv } from '../../src/config.ts';
import { startHub } from '../../src/hub.ts';
import type { EventJobData } from '../../src/queue/job.ts';
import { orderedKeys } from '../../src/queue/keys.ts';
import { createRedis } from '../../src/queue/redis.ts';
import { parseTriggers } from '../../src/trigger/load.ts';
import { serviceEnv } from '../../test/setup/env.ts';

const total = Number(process.argv[2] ?? 10_000);
const keyCount = Number(process.argv[3] ?? 16);
const concurrency = Number(process.argv[4] ?? 32);
const env = serviceEnv('TH_REDIS_URL');

let delivered = 0;
let onDelivered = () => {};
const sink = createServer((request, response) => {
  request.resume();
  request.on('end', () => {
    delivered++;
    onDelivered();
    response.end();
  });
});
await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
const sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/fn`;

async function run(mode: 'per-key' | 'none'): Promise<number> {
  const namespace = `bench-${randomBytes(4).toString('hex')}`;
  const doc = {
    apiVersion: 'triggerhub.io/v1alpha1',
    kind: 'Trigger',
    metadata: { namespace, name: 'fn' },
    spec: {
      source: { webhook: {} },
      target: { http: { url: sinkUrl } },
      delivery: { concurrency, ordering: { mode } },
    },
  };
  const hub = await startHub({
    config: { ...configFromEnv({}), redisUrl: env.TH_REDIS_URL, port: 0, logLevel: 'warn' },
    log: pino({ level: 'warn' }),
  });
  await hub.engine.apply(parseTriggers(stringify(doc), 'bench').triggers);
  const queue = hub.engine.get(`${namespace}/fn`)!.running!.queue;
  delivered = 0;
  const done = new Promise<void>((resolve) => {
    onDelivered = () => {
      if (delivered === total) resolve();
    };
  });
  const started = performance.now();
  for (let start = 0; start < total; start += 1000) {
    const batch: EventJobData[] = [];
    for (let i = start; i < Math.min(total, start + 1000); i++)
      batch.push({
        event: {
          specversion: '1.0',
          id: `bench/${i}`,
          source: '/bench',
          type: 'bench',
          time: new Date().toISOString(),
          partitionkey: `k${i % keyCount}`,
          data: { i },
        },
      });
    await queue.enqueue(batch);
  }
  await done;
  const seconds = (performance.now() - started) / 1000;
  await queue.queue.obliterate({ force: true });
  const redis = createRedis({ url: env.TH_REDIS_URL }, 'worker');
  const keys = orderedKeys({ key: `${namespace}/fn` });
  await redis.del(keys.events, keys.keys);
  redis.disconnect();
  await hub.close();
  return total / seconds;
}

const unordered = await run('none');
const ordered = await run('per-key');
console.log(
  `${total} events, ${keyCount} keys, delivery.concurrency ${concurrency}: unordered ${Math.round(unordered)} events/s, ordered ${Math.round(ordered)} events/s (${Math.round((ordered / unordered) * 100)} %)`,
);
sink.close();
process.exit(0);
