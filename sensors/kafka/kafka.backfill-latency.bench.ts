// The live stream's latency with and without a backfill running (docs/backfill.md: "the live stream is never
// delayed"). Produce → the function's receipt, for live records only, at a fixed rate; then the same while a
// backfill re-delivers a window of older records through the same target.
//   node sensors/kafka/kafka.backfill-latency.bench.ts [live events/s=500] [seconds=20] [window=2000] [backfill rate=1000]
//     [rounds=3]
// Needs the service stack's Redis and Kafka (`npm run services -- up redis kafka`). The hub runs as its own
// process (`trigger-hub run`), as in production; this process only produces and receives, and keeps per
// delivery nothing but a latency (a sink holding every body made its own GC pauses the tail being measured).

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, type Message } from 'kafkajs';
import { stringify } from 'yaml';
import { freePort, waitFor } from '../../scripts/services/lib/probe.ts';
import { serviceEnv } from '../../scripts/services/lib/service-env.ts';

const liveRate = Number(process.argv[2] ?? 500);
const seconds = Number(process.argv[3] ?? 20);
const window = Number(process.argv[4] ?? 2000);
const backfillRate = Number(process.argv[5] ?? 1000);
const rounds = Number(process.argv[6] ?? 3);
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

/** What the function saw: live latencies by phase tag, history records, backfilled records by backfill id. */
const seen = new Map<string, number[]>();
const backfilled = new Map<string, number>();
let historyDelivered = 0;
const sink = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const at = Date.now();
    response.writeHead(200).end();
    const backfill = request.headers['ce-backfill'];
    if (typeof backfill === 'string') {
      backfilled.set(backfill, (backfilled.get(backfill) ?? 0) + 1);
      return;
    }
    const body = JSON.parse(Buffer.concat(chunks).toString()) as { tag?: string; sent?: number };
    if (body.tag === undefined) {
      historyDelivered++;
      return;
    }
    const list = seen.get(body.tag) ?? [];
    list.push(at - body.sent!);
    seen.set(body.tag, list);
  });
});
await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
const sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/`;

const namespace = `bench-${randomBytes(3).toString('hex')}`;
const workDir = mkdtempSync(join(tmpdir(), 'th-backfill-bench-'));
writeFileSync(
  join(workDir, 'etl.yaml'),
  stringify({
    apiVersion: 'triggerhub.io/v1alpha1',
    kind: 'Trigger',
    metadata: { namespace, name: 'etl' },
    spec: {
      source: { kafka: { brokers, topics: [topic], startFrom: 'earliest' } },
      target: { http: { url: sinkUrl } },
    },
  }),
);
const port = await freePort();
const hubUrl = `http://127.0.0.1:${port}`;
const hub = spawn(
  process.execPath,
  ['src/cli/main.ts', 'run', '--triggers', workDir, '--port', String(port)],
  {
    env: {
      ...process.env,
      REDIS_URL: env.TH_REDIS_URL,
      LOG_LEVEL: 'warn',
      TH_DATA_DIR: join(workDir, 'data'),
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  },
);
await waitFor(() => historyDelivered >= history, 300_000, 'the history to be delivered');

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

function latencies(tag: string): number[] {
  return [...(seen.get(tag) ?? [])].sort((a, b) => a - b);
}

const quantile = (values: number[], q: number) =>
  values[Math.min(values.length - 1, Math.floor(q * values.length))];

async function phase(tag: string): Promise<{ p50: number; p99: number; count: number }> {
  await liveTraffic(tag);
  const expected = liveRate === 0 ? 0 : Math.max(1, Math.round(liveRate / 20)) * seconds * 20;
  await waitFor(() => (seen.get(tag)?.length ?? 0) >= expected, 120_000, `${tag} live records`);
  const values = latencies(tag);
  return { p50: quantile(values, 0.5)!, p99: quantile(values, 0.99)!, count: values.length };
}

// Alternating rounds (quiet, backfill, quiet, backfill, ..., quiet): a p99 over 20 s is set by the worst
// fifth of a second, so one phase of each says little on a shared machine; the medians of several say more.
const quiet = [await phase('quiet-0')];
const busy: Array<Awaited<ReturnType<typeof phase>> & { backfillDeliveriesDuringPhase: number }> = [];
for (let round = 1; round <= rounds; round++) {
  const response = await fetch(`${hubUrl}/api/triggers/${namespace}/etl/backfills`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      from: new Date(base + 4000 * 1000).toISOString(),
      to: new Date(base + (4000 + window) * 1000).toISOString(),
      rate: backfillRate,
    }),
  });
  const { backfill } = (await response.json()) as { backfill: { id: string } };
  const delivered = () => backfilled.get(backfill.id) ?? 0;
  const result = await phase(`backfill-${round}`);
  busy.push({ ...result, backfillDeliveriesDuringPhase: delivered() });
  await waitFor(() => delivered() >= window, 300_000, 'the backfill to be delivered');
  quiet.push(await phase(`quiet-${round}`));
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const summary = {
  liveRate,
  seconds,
  window,
  backfillRate,
  withoutBackfill: quiet,
  withBackfill: busy,
  medianP99: {
    withoutBackfill: median(quiet.map((p) => p.p99)),
    withBackfill: median(busy.map((p) => p.p99)),
  },
};
console.log(JSON.stringify(summary, null, 2));
console.log(
  `live p99, median of phases: ${summary.medianP99.withoutBackfill} ms without a backfill, ` +
    `${summary.medianP99.withBackfill} ms with one (${(summary.medianP99.withBackfill / summary.medianP99.withoutBackfill).toFixed(2)}x)`,
);
const exited = new Promise((resolve) => hub.once('exit', resolve));
hub.kill('SIGTERM');
await exited;
sink.close();
await producer.disconnect();
await admin.deleteTopics({ topics: [topic] }).catch(() => {});
await admin.disconnect();
process.exit(0);
