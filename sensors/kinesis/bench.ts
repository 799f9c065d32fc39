// Kinesis → function throughput on the service stack: N records pre-loaded into a 4-shard kinesalite
// stream, then one in-process hub reads them from TRIM_HORIZON and delivers them to a local function.
// Prints the ingest rate (records enqueued per second) and the end-to-end rate (delivered per second).
//   node sensors/kinesis/bench.ts [records=20000]     (needs `npm run services -- up redis kinesalite`)

import { Queue } from 'bullmq';
import { serviceEnv } from '../../scripts/services/lib/service-env.ts';
import { keyPrefix, queueName } from '../../src/queue/keys.ts';
import { startTestHub, uniqueNamespace } from '../../test/support/hub.ts';
import { startSink } from '../../test/support/sink.ts';
import {
  createStream,
  deleteStreams,
  kinesisClient,
  kinesisTrigger,
  putRecords,
  testRedis,
} from './test-support.ts';

const records = Number(process.argv[2] ?? 20_000);
Object.assign(process.env, serviceEnv('TH_REDIS_URL', 'TH_KINESIS_ENDPOINT'));

const client = kinesisClient();
const ns = uniqueNamespace('kbench');
await createStream(client, ns, 4);
for (let from = 0; from < records; from += 5000)
  await putRecords(client, ns, from, Math.min(5000, records - from));

const sink = await startSink();
const redis = testRedis();
const queue = new Queue(queueName({ key: `${ns}/bench` }), { connection: redis, prefix: keyPrefix });
const started = process.hrtime.bigint();
const cpuStart = process.cpuUsage();
const hub = await startTestHub([
  kinesisTrigger(ns, 'bench', { stream: ns, sinkUrl: sink.url, delivery: { concurrency: 64 } }),
]);
let ingestedMs: number | undefined;
while (sink.delivered.size < records) {
  if (ingestedMs === undefined) {
    const counts = await queue.getJobCounts(
      'completed',
      'wait',
      'active',
      'delayed',
      'prioritized',
      'failed',
    );
    if (Object.values(counts).reduce((sum, count) => sum + count, 0) >= records)
      ingestedMs = Number(process.hrtime.bigint() - started) / 1e6;
  }
  await new Promise((resolve) => setTimeout(resolve, 20));
}
const totalMs = Number(process.hrtime.bigint() - started) / 1e6;
const cpu = process.cpuUsage(cpuStart);
ingestedMs ??= totalMs;
console.log(
  JSON.stringify({
    records,
    shards: 4,
    ingestPerSecond: Math.round(records / (ingestedMs / 1000)),
    deliveredPerSecond: Math.round(records / (totalMs / 1000)),
    seconds: Number((totalMs / 1000).toFixed(1)),
    cpuMsPerRecord: Number(((cpu.user + cpu.system) / 1000 / records).toFixed(3)),
  }),
);
await hub.close();
await queue.close();
redis.disconnect();
await sink.close();
await deleteStreams(client);
