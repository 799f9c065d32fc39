// Quick measure of delivery.batch (not part of the test suite): N events already in a trigger's queue are
// drained into an HTTP sink by one in-process hub, unbatched and with batch {maxEvents}; prints events/s.
//   node scripts/bench/batch.ts [--n 20000] [--max-events 100] [--concurrency 32]
// Uses the service stack's Redis (`npm run services -- up redis`), under a unique namespace it removes after.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { configFromEnv } from '../../src/config.ts';
import { toHubEvent } from '../../src/envelope/event.ts';
import { toJobId } from '../../src/envelope/ids.ts';
import { startHub } from '../../src/hub.ts';
import { jobOptions } from '../../src/queue/event-queue.ts';
import { keyPrefix, queueName } from '../../src/queue/keys.ts';
import { parseTriggers } from '../../src/trigger/load.ts';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '20000' },
    'max-events': { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '32' },
  },
});
const n = Number(values.n);
const maxEvents = Number(values['max-events']);
const concurrency = Number(values.concurrency);
const redisUrl =
  process.env.TH_REDIS_URL ??
  (
    JSON.parse(readFileSync(new URL('../../.data/services/env.json', import.meta.url), 'utf8')) as Record<
      string,
      string
    >
  ).TH_REDIS_URL!;

// The function: counts events, one per request or one per array element.
let received = 0;
let requests = 0;
const sink = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    requests++;
    const batched = request.headers['content-type']?.startsWith('application/cloudevents-batch+json');
    received += batched ? (JSON.parse(Buffer.concat(chunks).toString()) as unknown[]).length : 1;
    response.writeHead(200).end();
  });
});
sink.keepAliveTimeout = 60_000;
await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
const sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/fn`;

async function run(label: string, delivery: Record<string, unknown>) {
  const namespace = `bench-${randomBytes(4).toString('hex')}`;
  const doc = {
    apiVersion: 'triggerhub.io/v1alpha1',
    kind: 'Trigger',
    metadata: { namespace, name: 'etl' },
    spec: { source: { webhook: {} }, target: { http: { url: sinkUrl } }, delivery },
  };
  const { triggers } = parseTriggers(stringify(doc), 'bench');
  const trigger = triggers[0]!.trigger;
  // Fill the queue before any worker runs, so the figure is the drain rate of dispatch alone.
  const queue = new Queue(queueName({ key: `${namespace}/etl` }), {
    connection: { url: redisUrl },
    prefix: keyPrefix,
  });
  const options = jobOptions(trigger.spec.delivery);
  for (let start = 0; start < n; start += 1000) {
    await queue.addBulk(
      Array.from({ length: Math.min(1000, n - start) }, (_, k) => {
        const event = toHubEvent({
          id: `bench/${start + k}`,
          source: 'bench',
          type: 'io.triggerhub.bench',
          data: { row: start + k, payload: 'x'.repeat(200) },
        });
        return { name: event.type, data: { event }, opts: { ...options, jobId: toJobId(event.id) } };
      }),
    );
  }
  received = 0;
  requests = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  const hub = await startHub({
    config: { ...configFromEnv({}), redisUrl, port: 0, logLevel: 'warn' },
    log: pino({ level: 'warn' }),
  });
  await hub.engine.apply(triggers);
  while (received < n) await new Promise((resolve) => setTimeout(resolve, 20));
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  await hub.close();
  await queue.obliterate({ force: true });
  await queue.close();
  const cpuMsPerEvent = (used.user + used.system) / 1000 / n;
  console.log(
    `${label.padEnd(28)} ${String(Math.round(n / seconds)).padStart(7)} events/s  ${String(requests).padStart(6)} requests  ${cpuMsPerEvent.toFixed(3)} CPU ms/event (hub + sink)`,
  );
  return n / seconds;
}

console.log(`${n} queued events → HTTP sink, one hub process, delivery.concurrency ${concurrency}`);
const plain = await run('unbatched', { concurrency });
const batched = await run(`batch {maxEvents ${maxEvents}}`, {
  concurrency: Math.min(concurrency, Math.floor(10_000 / maxEvents)),
  batch: { maxEvents, maxWaitMs: 100 },
});
console.log(`ratio: ${(batched / plain).toFixed(2)}×`);
sink.close();
sink.closeAllConnections();
