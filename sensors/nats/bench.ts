// Ingest benchmark: how fast JetStream messages become durable events in a trigger's queue (no dispatch).
//   node sensors/nats/bench.ts [messages=20000]
// Needs the service stack's Redis and NATS (`npm run services -- up redis nats`).

import { randomBytes } from 'node:crypto';
import { connect } from 'nats';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { serviceEnv } from '../../scripts/services/lib/service-env.ts';
import { configFromEnv } from '../../src/config.ts';
import { startHub } from '../../src/hub.ts';
import { parseTriggers } from '../../src/trigger/load.ts';

const total = Number(process.argv[2] ?? 20_000);
const env = serviceEnv('TH_REDIS_URL', 'TH_NATS_URL');
const nc = await connect({ servers: env.TH_NATS_URL });
const jsm = await nc.jetstreamManager();
const stream = `BENCH_${randomBytes(4).toString('hex').toUpperCase()}`;
await jsm.streams.add({ name: stream, subjects: [`${stream.toLowerCase()}.>`] });
const js = nc.jetstream();
const payload = JSON.stringify({
  order: 1042,
  customer: 'c-77',
  items: [{ sku: 'A-1', qty: 2 }],
  total: 99.5,
});
for (let sent = 0; sent < total; sent += 1000) {
  const acks = [];
  for (let i = sent; i < Math.min(total, sent + 1000); i++)
    acks.push(js.publish(`${stream.toLowerCase()}.orders`, payload));
  await Promise.all(acks);
}

const hub = await startHub({
  config: { ...configFromEnv({}), redisUrl: env.TH_REDIS_URL, port: 0, logLevel: 'warn' },
  log: pino({ level: 'warn' }),
  dispatch: false,
});
const namespace = `bench-${randomBytes(3).toString('hex')}`;
const doc = {
  apiVersion: 'triggerhub.io/v1alpha1',
  kind: 'Trigger',
  metadata: { namespace, name: 'jetstream' },
  spec: {
    source: {
      nats: { servers: [env.TH_NATS_URL], jetstream: { stream, batchSize: 1000, maxAckPending: 5000 } },
    },
    target: { http: { url: 'http://127.0.0.1:9/unused' } },
  },
};
const started = Date.now();
const cpuBefore = process.cpuUsage();
await hub.engine.apply(parseTriggers(stringify(doc), 'bench').triggers);
const queue = hub.engine.get(`${namespace}/jetstream`)!.running!.queue.queue;
let firstAt: number | undefined;
for (;;) {
  const counts = await queue.getJobCounts('waiting');
  if (counts.waiting! > 0 && firstAt === undefined) firstAt = Date.now();
  if (counts.waiting! >= total) break;
  await new Promise((resolve) => setTimeout(resolve, 100));
}
const cpu = process.cpuUsage(cpuBefore);
const seconds = (Date.now() - firstAt!) / 1000;
console.log(
  JSON.stringify({
    bench: 'jetstream → queue (ingest, durable)',
    messages: total,
    startAndFirstEventMs: firstAt! - started,
    ingestSeconds: seconds,
    eventsPerSecond: Math.round(total / seconds),
    // The hub process's CPU (user + system) per event, from start to the last event: independent of how
    // busy the rest of the machine is, unlike events/s.
    hubCpuMsPerEvent: Number(((cpu.user + cpu.system) / 1000 / total).toFixed(4)),
  }),
);
await queue.obliterate({ force: true });
await hub.close();
await jsm.streams.delete(stream);
await nc.drain();
