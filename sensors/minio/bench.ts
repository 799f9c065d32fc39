// Measures put → function latency through the real MinIO at a fixed rate, split into MinIO's part (object
// written → notification at the hub's door) and the hub's part (notification in → function invoked).
//   npm run services -- up redis minio && node sensors/minio/bench.ts [objects/s=10] [count=300]
// Listens on TH_MINIO_WEBHOOK_PORT, so nothing else may (no integration test running at the same time).

import { waitFor } from '../../scripts/services/lib/probe.ts';
import { serviceEnv } from '../../scripts/services/lib/service-env.ts';
import { startTestHub, triggerDoc, uniqueNamespace } from '../../test/support/hub.ts';
import { startSink } from '../../test/support/sink.ts';
import { minioClient, percentile, startRelay, subscribedBucket } from './test-support.ts';

Object.assign(
  process.env,
  serviceEnv(
    'TH_REDIS_URL',
    'TH_MINIO_ENDPOINT',
    'TH_MINIO_ACCESS_KEY',
    'TH_MINIO_SECRET_KEY',
    'TH_MINIO_WEBHOOK_TOKEN',
    'TH_MINIO_WEBHOOK_PORT',
    'TH_MINIO_WEBHOOK_ARN',
  ),
);
const rate = Number(process.argv[2] ?? 10);
const count = Number(process.argv[3] ?? 300);

const client = minioClient();
const bucket = await subscribedBucket(client);
const arrived = new Map<string, number>();
const relay = await startRelay();
relay.onRequest = (body) => {
  try {
    const { Key } = JSON.parse(body.toString('utf8')) as { Key: string };
    if (!arrived.has(Key)) arrived.set(Key, performance.now());
  } catch {}
};
const invoked = new Map<string, number>();
const sink = await startSink({
  respond: (received) => {
    const { subject } = JSON.parse(received.body.toString('utf8')) as { subject: string };
    if (!invoked.has(subject)) invoked.set(subject, performance.now());
    return { status: 200 };
  },
});
const hub = await startTestHub([
  triggerDoc(uniqueNamespace('minio-latency'), 'objects', {
    source: {
      minio: { path: 'minio', authToken: { env: 'TH_MINIO_WEBHOOK_TOKEN' }, bucket, events: ['put'] },
    },
    target: { http: { url: sink.url, mode: 'structured' } },
  }),
]);
relay.target = hub.url;

const written = new Map<string, number>();
const started = performance.now();
const puts: Promise<void>[] = [];
for (let i = 0; i < count; i++) {
  const due = started + (i * 1000) / rate;
  const wait = due - performance.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  const key = `latency/${i} é+%.xml`;
  puts.push(
    client.putObject(bucket, key, Buffer.from('<x/>')).then(() => {
      written.set(`${bucket}/${key}`, performance.now());
    }),
  );
}
await Promise.all(puts);
// What has not arrived within five minutes is reported as missing (the count below).
await waitFor(() => invoked.size >= count, 300_000, 'every object to reach the function').catch(() => {});

const split = (from: Map<string, number>, to: Map<string, number>) =>
  [...from].filter(([key]) => to.has(key)).map(([key, at]) => to.get(key)! - at);
const summary = (values: number[]) =>
  `p50 ${percentile(values, 50).toFixed(1)} ms, p99 ${percentile(values, 99).toFixed(1)} ms`;
console.log(`${invoked.size}/${count} objects at ${rate}/s`);
console.log(`put → function invoked:        ${summary(split(written, invoked))}`);
console.log(`  MinIO (put → hub's door):    ${summary(split(written, arrived))}`);
console.log(`  hub (door → function):       ${summary(split(arrived, invoked))}`);

await hub.close();
await sink.close();
await relay.close();
process.exit(invoked.size === count ? 0 : 1);
