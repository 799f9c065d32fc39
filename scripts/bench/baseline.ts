// The baseline of `npm run bench`: the bare BullMQ + undici pipeline the hub is measured against, with no hub
// code at all. A node:http receiver `queue.add`s each POSTed body (answering 202 once Redis has it, as the
// hub's webhook does) and a BullMQ Worker POSTs each job's body to the target with a pooled undici Agent.
// With --kafka or --nats it reads a topic / JetStream stream instead, as the hub does: each fetched batch is one
// `addBulk` (job ids from the source position), and only then committed / acked.
//
//   node scripts/bench/baseline.ts --redis redis://127.0.0.1:7301/9 --port P --target http://127.0.0.1:S/
//        [--queue name] [--concurrency 64] [--kafka host:port,… --topic T | --nats URL --stream S]
//
// Prints `{"ready":true,...}` on stdout once it listens; SIGTERM closes it. `GET /stats` answers process
// CPU and memory figures (the bench also reads /proc).

import http from 'node:http';
import { parseArgs } from 'node:util';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { Agent, request } from 'undici';

const { values } = parseArgs({
  options: {
    redis: { type: 'string' },
    port: { type: 'string' },
    target: { type: 'string' },
    queue: { type: 'string', default: 'bench-baseline' },
    concurrency: { type: 'string', default: '64' },
    kafka: { type: 'string' },
    topic: { type: 'string' },
    nats: { type: 'string' },
    stream: { type: 'string' },
  },
});
if (!values.redis || !values.port || !values.target) {
  console.error('usage: baseline.ts --redis URL --port P --target URL [--queue name] [--concurrency N]');
  process.exit(2);
}
const target = values.target;
const concurrency = Number(values.concurrency);

// Same connection split as the hub: a fail-fast producer, a worker connection that waits.
const producer = new Redis(values.redis, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
const workerConnection = new Redis(values.redis, { maxRetriesPerRequest: null });
await new Promise((ready) => producer.once('ready', ready));

interface Job {
  body: string;
}
// Same retention as the hub (completed jobs kept for de-duplication), so both trim alike.
const queue = new Queue<Job>(values.queue, {
  connection: producer,
  defaultJobOptions: { attempts: 11, removeOnComplete: { age: 3600, count: 20_000 } },
});
const agent = new Agent({ connections: 256, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 120_000 });

const worker = new Worker<Job>(
  values.queue,
  async (job) => {
    const response = await request(target, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: job.data.body,
      dispatcher: agent,
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
    });
    await response.body.dump();
    if (response.statusCode >= 300) throw new Error(`HTTP ${response.statusCode}`);
  },
  { connection: workerConnection, concurrency },
);
worker.on('error', (error) => console.error('[baseline] worker error:', error.message));

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/stats') {
    const cpu = process.cpuUsage();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ cpuUserUs: cpu.user, cpuSystemUs: cpu.system, rss: process.memoryUsage().rss }));
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    queue.add('event', { body: Buffer.concat(chunks).toString('utf8') }).then(
      () => {
        res.writeHead(202, { 'content-length': 0 });
        res.end();
      },
      (error: Error) => {
        res.writeHead(503, { 'content-type': 'text/plain' });
        res.end(error.message);
      },
    );
  });
});
server.keepAliveTimeout = 65_000;
const stopSource = values.kafka ? await consumeKafka() : values.nats ? await consumeJetStream() : undefined;
server.listen(Number(values.port), '127.0.0.1', () => {
  console.log(JSON.stringify({ ready: true, pid: process.pid, port: Number(values.port) }));
});

async function consumeKafka(): Promise<() => Promise<void>> {
  const { Kafka, logLevel } = await import('kafkajs');
  const topic = values.topic!;
  const kafka = new Kafka({
    clientId: 'th-baseline',
    brokers: values.kafka!.split(','),
    logLevel: logLevel.NOTHING,
  });
  const consumer = kafka.consumer({ groupId: `${values.queue}-group` });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  const joined = new Promise<void>((done) => consumer.on(consumer.events.GROUP_JOIN, () => done()));
  await consumer.run({
    partitionsConsumedConcurrently: 6,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset, commitOffsetsIfNecessary }) => {
      if (batch.messages.length === 0) return;
      await queue.addBulk(
        batch.messages.map((message) => ({
          name: 'event',
          data: { body: message.value?.toString('utf8') ?? '' },
          opts: { jobId: `k-${batch.partition}-${message.offset}` },
        })),
      );
      resolveOffset(batch.lastOffset());
      await commitOffsetsIfNecessary();
    },
  });
  await joined;
  return () => consumer.disconnect();
}

async function consumeJetStream(): Promise<() => Promise<void>> {
  const { AckPolicy, connect } = await import('nats');
  const nc = await connect({ servers: values.nats! });
  const stream = values.stream!;
  const durable = `${values.queue}-durable`;
  await (await nc.jetstreamManager()).consumers.add(stream, {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    max_ack_pending: 5000,
  });
  const consumer = await nc.jetstream().consumers.get(stream, durable);
  let running = true;
  const loop = (async () => {
    while (running) {
      const messages = [];
      for await (const message of await consumer.fetch({ max_messages: 500, expires: 1000 }))
        messages.push(message);
      if (messages.length === 0) continue;
      await queue.addBulk(
        messages.map((message) => ({
          name: 'event',
          data: { body: message.string() },
          opts: { jobId: `j-${message.seq}` },
        })),
      );
      for (const message of messages) message.ack();
    }
  })();
  return async () => {
    running = false;
    await loop.catch(() => {});
    await nc.close();
  };
}

let closing = false;
async function close(): Promise<void> {
  if (closing) return;
  closing = true;
  server.close();
  server.closeAllConnections();
  await stopSource?.().catch(() => {});
  await worker.close(true).catch(() => {});
  await queue.close().catch(() => {});
  producer.disconnect();
  workerConnection.disconnect();
  await agent.close().catch(() => {});
  process.exit(0);
}
process.on('SIGTERM', () => void close());
process.on('SIGINT', () => void close());
