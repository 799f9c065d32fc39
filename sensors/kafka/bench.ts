// Ingest benchmark: how fast Kafka messages become durable events in a trigger's queue (no dispatch).
//   node sensors/kafka/bench.ts [messages=50000] [partitions=6]
// Needs the service stack's Redis and Kafka (`npm run services -- up redis kafka`).

import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, type Message } from 'kafkajs';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { serviceEnv } from '../../scripts/services/lib/service-env.ts';
import { configFromEnv } from '../../src/config.ts';
import { startHub } from '../../src/hub.ts';
import { parseTriggers } from '../../src/trigger/load.ts';

const total = Number(process.argv[2] ?? 50_000);
const partitions = Number(process.argv[3] ?? 6);
const env = serviceEnv('TH_REDIS_URL', 'TH_KAFKA_BROKERS');
const brokers = env.TH_KAFKA_BROKERS.split(',');
const kafka = new Kafka({ clientId: 'th-bench', brokers, logLevel: logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();
const topic = `th-bench-${randomBytes(4).toString('hex')}`;
await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
const producer = kafka.producer();
await producer.connect();
const payload = JSON.stringify({
  order: 1042,
  customer: 'c-77',
  items: [{ sku: 'A-1', qty: 2 }],
  total: 99.5,
});
for (let sent = 0; sent < total; sent += 5000) {
  const messages: Message[] = [];
  for (let i = sent; i < Math.min(total, sent + 5000); i++)
    messages.push({ key: `k${i % 64}`, value: payload });
  await producer.send({ topic, acks: -1, messages });
}
await producer.disconnect();

const hub = await startHub({
  config: { ...configFromEnv({}), redisUrl: env.TH_REDIS_URL, port: 0, logLevel: 'warn' },
  log: pino({ level: 'warn' }),
  dispatch: false,
});
const namespace = `bench-${randomBytes(3).toString('hex')}`;
const doc = {
  apiVersion: 'triggerhub.io/v1alpha1',
  kind: 'Trigger',
  metadata: { namespace, name: 'kafka' },
  spec: {
    source: {
      kafka: { brokers, topics: [topic], startFrom: 'earliest', partitionsConsumedConcurrently: partitions },
    },
    target: { http: { url: 'http://127.0.0.1:9/unused' } },
  },
};
const started = Date.now();
const cpuBefore = process.cpuUsage();
await hub.engine.apply(parseTriggers(stringify(doc), 'bench').triggers);
const queue = hub.engine.get(`${namespace}/kafka`)!.running!.queue.queue;
let firstAt: number | undefined;
for (;;) {
  const counts = await queue.getJobCounts('waiting');
  if (counts.waiting! > 0 && firstAt === undefined) firstAt = Date.now();
  if (counts.waiting! >= total) break;
  await new Promise((resolve) => setTimeout(resolve, 100));
}
const done = Date.now();
const cpu = process.cpuUsage(cpuBefore);
const seconds = (done - firstAt!) / 1000;
console.log(
  JSON.stringify({
    bench: 'kafka → queue (ingest, durable)',
    messages: total,
    partitions,
    joinAndFirstEventMs: firstAt! - started,
    ingestSeconds: seconds,
    eventsPerSecond: Math.round(total / seconds),
    // The hub process's CPU (user + system) per event, from start to the last event: independent of how
    // busy the rest of the machine is, unlike events/s.
    hubCpuMsPerEvent: Number(((cpu.user + cpu.system) / 1000 / total).toFixed(4)),
  }),
);
await queue.obliterate({ force: true });
await hub.close();
await admin.deleteTopics({ topics: [topic] });
await admin.disconnect();
