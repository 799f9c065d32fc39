// What per-key ordering costs: events/s from emit to a 2xx at a local function, ordered (16 keys by
// default) vs unordered, in one hub process on the service stack's Redis. Events are emitted in batches of
// 1,000 (what a Kafka fetch gives) while the dispatcher delivers; the clock stops at the last 2xx. Rounds
// alternate which mode goes first; medians are printed (a shared box is noisy), with the process's CPU time
// per event (hub and sink together: the sink's share is the same in both modes).
//   node scripts/bench/ordered.ts [events=10000] [keys=16] [concurrency=32] [rounds=3]
// Needs the stack's Redis (`npm run services -- up redis`). Leaves no keys behind (its own queues only).

import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { serviceEnv } from '../../scripts/services/lib/service-env.ts';
import { configFromEnv } from '../../src/config.ts';
import { startHub } from '../../src/hub.ts';
import type { EventJobData } from '../../src/queue/job.ts';
import { orderedKeys } from '../../src/queue/keys.ts';
import { createRedis } from '../../src/queue/redis.ts';
import { parseTriggers } from '../../src/trigger/load.ts';

const total = Number(process.argv[2] ?? 10_000);
const keyCount = Number(process.argv[3] ?? 16);
const concurrency = Number(process.argv[4] ?? 32);
const rounds = Number(process.argv[5] ?? 3);
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

interface Figure {
  eventsPerSecond: number;
  cpuMsPerEvent: number;
}

async function run(mode: 'per-key' | 'none'): Promise<Figure> {
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
  const cpuBefore = process.cpuUsage();
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
  const cpu = process.cpuUsage(cpuBefore);
  await queue.queue.obliterate({ force: true });
  const redis = createRedis({ url: env.TH_REDIS_URL }, 'worker');
  const keys = orderedKeys({ key: `${namespace}/fn` });
  await redis.del(keys.events, keys.keys);
  redis.disconnect();
  await hub.close();
  return { eventsPerSecond: total / seconds, cpuMsPerEvent: (cpu.user + cpu.system) / 1000 / total };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const figures: Record<'none' | 'per-key', Figure[]> = { none: [], 'per-key': [] };
for (let round = 0; round < rounds; round++) {
  const order: Array<'none' | 'per-key'> = round % 2 === 0 ? ['none', 'per-key'] : ['per-key', 'none'];
  for (const mode of order) figures[mode].push(await run(mode));
}
const summary = (mode: 'none' | 'per-key') => ({
  eventsPerSecond: Math.round(median(figures[mode].map((f) => f.eventsPerSecond))),
  cpuMsPerEvent: Number(median(figures[mode].map((f) => f.cpuMsPerEvent)).toFixed(3)),
});
const unordered = summary('none');
const ordered = summary('per-key');
console.log(
  `${total} events, ${keyCount} keys, delivery.concurrency ${concurrency}, median of ${rounds}: ` +
    `unordered ${unordered.eventsPerSecond} events/s (${unordered.cpuMsPerEvent} ms CPU/event), ` +
    `ordered ${ordered.eventsPerSecond} events/s (${ordered.cpuMsPerEvent} ms CPU/event): ` +
    `${Math.round((ordered.eventsPerSecond / unordered.eventsPerSecond) * 100)} %`,
);
sink.close();
process.exit(0);
