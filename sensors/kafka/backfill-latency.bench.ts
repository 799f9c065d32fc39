// The live stream's latency with and without a backfill running (docs/backfill.md: "the live stream is never
// delayed"). Produce → the function's receipt, for live records only, at a fixed rate; then the same while a
// backfill re-delivers a window of older records through the same target.
//   node sensors/kafka/backfill-latency.bench.ts [live events/s=500] [seconds=20] [window=2000] [backfill rate=1000]
// Needs the service stack's Redis and Kafka (`npm run services -- up redis kafka`).

import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, type Message } from 'kafkajs';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { configFromEnv } from '../../src/config.ts';
import { startHub } from '../../src/hub.ts';
import { parseTriggers } from '../../src/trigger/load.ts';
import { serviceEnv } from '../../test/setup/env.ts';
import { startSink } from '../../test/support/sink.ts';

const liveRate = Number(process.argv[2] ?? 500);
const seconds = Number(process.argv[3] ?? 20);
const window = Number(process.argv[4] ?? 2000);
const backfillRate = Number(process.argv[5] ?? 1000);
const history = 10_000;
const env = serviceEnv('TH_REDIS_URL', 'TH_KAFKA_BROKERS');
const brokers = env.TH_KAFKA_BROKERS.split(',');
const kafka = new Kafka({ clientId: 'th-bench', brokers, logLevel: logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();
const topic = `th-bench-${randomBytes(4).toString('hex')}`;
await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
const producer = kafka.producer();
await producer.connect();

// History: one record a second, ending an hour ago.
const base = Date.now() - 3600_000 - history * 1000;
for (let sent = 0; sent < history; sent += 2000) {
  const messages: Message[] = [];
  for (let i = sent; i < sent + 2000; i++)
    messages.push({ value: JSON.stringify({ n: i }), timestamp: String(base + i * 1000) });
  await producer.send({ topic, acks: -1, messages });
}

const sink = await startSink();
const namespace = `bench-${randomBytes(3).toString('hex')}`;
const hub = await startHub({
  config: { ...configFromEnv({}), redisUrl: env.TH_REDIS_URL, port: 0, logLevel: 'warn' },
  log: pino({ level: 'warn' }),
});
const doc = {
  apiVersion: 'triggerhub.io/v1alpha1',
  kind: 'Trigger',
  metadata: { namespace, name: 'etl' },
  spec: {
    source: { kafka: { brokers, topics: [topic], startFrom: 'earliest' } },
    target: { http: { url: sink.url } },
  },
};
await hub.engine.apply(parseTriggers(stringify(doc), 'bench').triggers);
await sink.waitFor(() => sink.delivered.size >= history, 300_000, 'the history to be delivered');

/** Produces `liveRate` records a second for `seconds`, each carrying its send time; returns when sent. */
async function liveTraffic(tag: string): Promise<void> {
  const perTick = Math.max(1, Math.round(liveRate / 20));
  const ticks = seconds * 20;
  const start = Date.now();
  for (let tick = 0; tick < ticks; tick++) {
    const messages: Message[] = [];
    for (let i = 0; i < perTick; i++) messages.push({ value: JSON.stringify({ tag, sent: Date.now() }) });
    await producer.send({ topic, acks: 1, messages });
    const wait = start + (tick + 1) * 50 - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

/** Latency of each live record by phase tag, parsed once per delivery (the sink keeps every request). */
const seen = new Map<string, number[]>();
let parsed = 0;
function latencies(tag: string): number[] {
  for (; parsed < sink.received.length; parsed++) {
    const entry = sink.received[parsed]!;
    if (entry.headers['ce-backfill'] !== undefined) continue;
    const body = JSON.parse(entry.body.toString()) as { tag?: string; sent?: number };
    if (body.tag === undefined) continue;
    const list = seen.get(body.tag) ?? [];
    list.push(entry.at - body.sent!);
    seen.set(body.tag, list);
  }
  return [...(seen.get(tag) ?? [])].sort((a, b) => a - b);
}

const quantile = (values: number[], q: number) =>
  values[Math.min(values.length - 1, Math.floor(q * values.length))];

async function phase(tag: string): Promise<{ p50: number; p99: number; count: number }> {
  await liveTraffic(tag);
  const expected = liveRate === 0 ? 0 : Math.max(1, Math.round(liveRate / 20)) * seconds * 20;
  await sink.waitFor(() => latencies(tag).length >= expected, 120_000, `${tag} live records`);
  const values = latencies(tag);
  return { p50: quantile(values, 0.5)!, p99: quantile(values, 0.99)!, count: values.length };
}

const without = await phase('quiet');
const response = await fetch(`${hub.url}/api/triggers/${namespace}/etl/backfills`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({
    from: new Date(base + 4000 * 1000).toISOString(),
    to: new Date(base + (4000 + window) * 1000).toISOString(),
    rate: backfillRate,
  }),
});
const { backfill } = (await response.json()) as { backfill: { id: string } };
const withBackfill = await phase('backfill');
const backfilled = sink.received.filter((entry) => entry.headers['ce-backfill'] === backfill.id).length;
// Once more without, after the backfill ended: on a shared machine the spread between the two quiet phases
// says how much of a difference is noise.
await sink.waitFor(
  () => sink.received.filter((entry) => entry.headers['ce-backfill'] === backfill.id).length >= window,
  300_000,
  'the backfill to be delivered',
);
const after = await phase('after');
console.log(
  JSON.stringify(
    {
      liveRate,
      seconds,
      window,
      backfillRate,
      withoutBackfill: without,
      withBackfill: { ...withBackfill, backfillDeliveriesDuringPhase: backfilled },
      withoutBackfillAgain: after,
    },
    null,
    2,
  ),
);
await hub.close();
await sink.close();
await producer.disconnect();
await admin.deleteTopics({ topics: [topic] }).catch(() => {});
await admin.disconnect();
process.exit(0);
