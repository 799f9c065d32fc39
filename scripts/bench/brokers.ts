// Broker sources for `npm run bench`: Kafka and JetStream → function, measured like the webhook runs. The load
// is produced here (the role load.mjs plays for webhooks): N events `{id, run, seq, ts}` with `ts` stamped at
// send time on the same clock as sink.mjs, so the sink's latency is "produced → function" and its report gives
// lost, duplicates and end-to-end events/s exactly as for load.mjs.

import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { CompressionTypes, Kafka, logLevel, type Message, type Producer } from 'kafkajs';
import { connect, type JetStreamClient, type NatsConnection } from 'nats';

export type BrokerKind = 'kafka' | 'jetstream';

/** What load.mjs prints (and the broker load returns), for the fields the bench reads. */
export interface LoadResult {
  accepted: number;
  lost: number;
  duplicates: number;
  errors: number;
  rejected: number;
  timed_out: boolean;
  e2e_rate_per_s: number | null;
  ingest_rate_per_s: number;
  latency_ms?: { p50: number; p90: number; p99: number; max: number };
  webhook_ms: { p50: number; p99: number };
  error?: string;
}

export interface BrokerSource {
  kind: BrokerKind;
  /** `spec.source` of the hub's Trigger. */
  triggerSource: Record<string, unknown>;
  /** Arguments that put scripts/bench/baseline.ts on the same source. */
  baselineArgs: string[];
  /** Produces `n` events (at `rate`/s, or as fast as the broker takes them) and waits for the sink. */
  load(
    run: string,
    sinkUrl: string,
    options: { n: number; rate?: number; timeoutS: number },
  ): Promise<LoadResult>;
  close(): Promise<void>;
}

const kafkaPartitions = 6;

/** A fresh topic (6 partitions) or stream per system under test, so each starts empty. */
export async function createBrokerSource(
  kind: BrokerKind,
  env: Record<string, string>,
): Promise<BrokerSource> {
  return kind === 'kafka' ? createKafkaSource(env) : createJetStreamSource(env);
}

const clock = () => performance.timeOrigin + performance.now();
const marker = (run: string, seq: number) => JSON.stringify({ id: `${run}-${seq}`, run, seq, ts: clock() });

async function createKafkaSource(env: Record<string, string>): Promise<BrokerSource> {
  const brokers = required(env, 'TH_KAFKA_BROKERS').split(',');
  const kafka = new Kafka({ clientId: 'th-bench-load', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const topic = `th-bench-${randomBytes(4).toString('hex')}`;
  await admin.createTopics({ topics: [{ topic, numPartitions: kafkaPartitions }], waitForLeaders: true });
  const producer: Producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  let key = 0;
  const send = async (run: string, from: number, to: number) => {
    const messages: Message[] = [];
    for (let seq = from; seq < to; seq++) messages.push({ key: `k${key++ % 64}`, value: marker(run, seq) });
    await producer.send({ topic, acks: -1, compression: CompressionTypes.None, messages });
  };
  return {
    kind: 'kafka',
    triggerSource: {
      kafka: {
        brokers,
        topics: [topic],
        startFrom: 'earliest',
        partitionsConsumedConcurrently: kafkaPartitions,
      },
    },
    baselineArgs: ['--kafka', brokers.join(','), '--topic', topic],
    load: (run, sinkUrl, options) => produceAndWait(send, run, sinkUrl, options),
    async close() {
      await producer.disconnect().catch(() => {});
      await admin.deleteTopics({ topics: [topic] }).catch(() => {});
      await admin.disconnect().catch(() => {});
    },
  };
}

async function createJetStreamSource(env: Record<string, string>): Promise<BrokerSource> {
  const url = required(env, 'TH_NATS_URL');
  const nc: NatsConnection = await connect({ servers: url });
  const jsm = await nc.jetstreamManager();
  const stream = `BENCH_${randomBytes(4).toString('hex').toUpperCase()}`;
  const subject = `${stream.toLowerCase()}.events`;
  await jsm.streams.add({ name: stream, subjects: [subject] });
  const js: JetStreamClient = nc.jetstream();
  const send = async (run: string, from: number, to: number) => {
    const acks: Array<Promise<unknown>> = [];
    for (let seq = from; seq < to; seq++) acks.push(js.publish(subject, marker(run, seq)));
    await Promise.all(acks);
  };
  return {
    kind: 'jetstream',
    triggerSource: {
      nats: { servers: [url], jetstream: { stream, batchSize: 500, maxAckPending: 5000 } },
    },
    baselineArgs: ['--nats', url, '--stream', stream],
    load: (run, sinkUrl, options) => produceAndWait(send, run, sinkUrl, options),
    async close() {
      await jsm.streams.delete(stream).catch(() => {});
      await nc.close();
    },
  };
}

type Send = (run: string, from: number, to: number) => Promise<void>;

/**
 * Saturated: batches of 500, at most 4 in flight (the broker's own pace). Fixed rate: a batch every 10 ms
 * (rate/100 events), sent without waiting for the previous one, so a slow broker answer does not slow the load.
 */
async function produceAndWait(
  send: Send,
  run: string,
  sinkUrl: string,
  options: { n: number; rate?: number; timeoutS: number },
): Promise<LoadResult> {
  const { n } = options;
  let errors = 0;
  let accepted = 0;
  const started = clock();
  const sendCounted = (from: number, to: number) =>
    send(run, from, to).then(
      () => {
        accepted += to - from;
      },
      () => {
        errors += to - from;
      },
    );
  if (options.rate) {
    const perTick = Math.max(1, Math.round(options.rate / 100));
    const inFlight: Array<Promise<void>> = [];
    for (let seq = 0, tick = 0; seq < n; seq += perTick, tick++) {
      const due = started + tick * 10;
      const wait = due - clock();
      if (wait > 0) await sleep(wait);
      inFlight.push(sendCounted(seq, Math.min(n, seq + perTick)));
    }
    await Promise.all(inFlight);
  } else {
    const batch = 500;
    let next = 0;
    const lane = async () => {
      while (next < n) {
        const from = next;
        next = Math.min(n, next + batch);
        await sendCounted(from, next);
      }
    };
    await Promise.all([lane(), lane(), lane(), lane()]);
  }
  const ingestS = (clock() - started) / 1000;
  const deadline = Date.now() + options.timeoutS * 1000;
  let report = await sinkReport(sinkUrl, run);
  let lastUnique = -1;
  let idleSince = Date.now();
  while (report.unique < accepted && Date.now() < deadline) {
    await sleep(200);
    report = await sinkReport(sinkUrl, run);
    if (report.unique !== lastUnique) {
      lastUnique = report.unique;
      idleSince = Date.now();
    } else if (Date.now() - idleSince > 30_000) break; // nothing arrives any more
  }
  return {
    accepted,
    lost: Math.max(0, accepted - report.unique),
    duplicates: report.duplicates,
    errors,
    rejected: 0,
    timed_out: report.unique < accepted,
    e2e_rate_per_s: report.e2e_rate_per_s,
    ingest_rate_per_s: Math.round(accepted / ingestS),
    ...(report.latency_ms ? { latency_ms: report.latency_ms } : {}),
    // No webhook in front: the producer's own acknowledgement time is not comparable, so not reported.
    webhook_ms: { p50: 0, p99: 0 },
  };
}

interface SinkReport {
  unique: number;
  duplicates: number;
  e2e_rate_per_s: number | null;
  latency_ms?: { p50: number; p90: number; p99: number; max: number };
}

async function sinkReport(sinkUrl: string, run: string): Promise<SinkReport> {
  try {
    const response = await fetch(`${sinkUrl}/report?run=${encodeURIComponent(run)}`, {
      signal: AbortSignal.timeout(5000),
    });
    if (!response.ok) return { unique: 0, duplicates: 0, e2e_rate_per_s: null };
    return (await response.json()) as SinkReport;
  } catch {
    return { unique: 0, duplicates: 0, e2e_rate_per_s: null };
  }
}

function required(env: Record<string, string>, name: string): string {
  const value = env[name];
  if (!value) throw new Error(`${name} is not set: is the service up? (npm run services -- up)`);
  return value;
}
