// Per-key ordered delivery end to end, from the stack's real Kafka to a function: every key's events arrive
// in order while one key's event fails and is retried, the other keys keep flowing meanwhile, and a hub
// SIGKILLed mid-stream restarts without breaking any key's order.

import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, type Message } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kafkaEventId } from '../../../sensors/kafka/message.ts';
import type { Hub } from '../../../src/hub.ts';
import { countDeadLetters, listDeadLetters } from '../../../src/queue/dead-letter.ts';
import {
  freePort,
  spawnHub,
  startTestHub,
  triggerDoc,
  uniqueNamespace,
  writeTriggerDir,
} from '../../support/hub.ts';
import { type Reply, startSink } from '../../support/sink.ts';

function brokers(): string[] {
  const value = process.env.TH_KAFKA_BROKERS;
  if (!value) throw new Error('TH_KAFKA_BROKERS is not set: run with TH_SERVICES=redis,kafka');
  return value.split(',');
}

const kafka = new Kafka({ clientId: 'th-test-ordered', brokers: brokers(), logLevel: logLevel.NOTHING });
const admin = kafka.admin();
const producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });

beforeAll(async () => {
  await admin.connect();
  await producer.connect();
});

afterAll(async () => {
  await producer.disconnect();
  await admin.disconnect();
});

async function createTopic(partitions: number): Promise<string> {
  const topic = `th-test-ordered-${randomBytes(4).toString('hex')}`;
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  return topic;
}

/** `perKey` messages for each key, interleaved across keys (the partitioner spreads the keys). */
async function produce(topic: string, keys: string[], perKey: number): Promise<void> {
  const messages: Message[] = [];
  for (let seq = 0; seq < perKey; seq++)
    for (const key of keys) messages.push({ key, value: JSON.stringify({ key, seq }) });
  for (let start = 0; start < messages.length; start += 500)
    await producer.send({ topic, acks: -1, messages: messages.slice(start, start + 500) });
}

function orderedTrigger(
  namespace: string,
  topic: string,
  url: string,
  delivery: Record<string, unknown>,
  kafka: Record<string, unknown> = {},
) {
  return triggerDoc(namespace, 'ordered', {
    source: {
      kafka: { brokers: brokers(), topics: [topic], startFrom: 'earliest', sessionTimeoutMs: 6000, ...kafka },
    },
    target: { http: { url } },
    delivery: { ordering: { mode: 'per-key' }, ...delivery },
  });
}

interface Attempt {
  key: string;
  seq: number;
  status: number;
}

function attemptOf(body: Buffer): { key: string; seq: number } {
  return JSON.parse(body.toString()) as { key: string; seq: number };
}

function byKey(attempts: Attempt[], ok: boolean): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const { key, seq, status } of attempts) {
    if (ok && (status < 200 || status >= 300)) continue;
    out.set(key, [...(out.get(key) ?? []), seq]);
  }
  return out;
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
const keysOf = (count: number) => range(0, count).map((i) => `customer-${i}`);

describe('per-key ordered delivery from Kafka', () => {
  it('keeps every key in order while one key is retried (the others flow meanwhile) and one is dead-lettered', async () => {
    const keys = keysOf(8);
    const perKey = 30;
    const failing = { key: 'customer-3', seq: 10 };
    const rejected = { key: 'customer-5', seq: 7 };
    const attempts: Attempt[] = [];
    let failures = 0;
    const sink = await startSink({
      respond: (request): Reply => {
        const { key, seq } = attemptOf(request.body);
        let status = 200;
        if (key === failing.key && seq === failing.seq && failures < 2) {
          failures++;
          status = 503;
        }
        if (key === rejected.key && seq === rejected.seq) status = 400;
        attempts.push({ key, seq, status });
        return { status };
      },
    });
    const topic = await createTopic(4);
    await produce(topic, keys, perKey);
    const namespace = uniqueNamespace('ordered');
    let hub: Hub | undefined;
    try {
      hub = await startTestHub([
        orderedTrigger(namespace, topic, sink.url, {
          retries: 3,
          // Long enough that the other keys visibly move on while customer-3 waits for its retries.
          backoff: { initialMs: 1500, maxMs: 3000, jitter: 0 },
        }),
      ]);
      const total = keys.length * perKey;
      await sink.waitFor(() => sink.delivered.size === total - 1, 90_000, `${total - 1} deliveries`);

      const delivered = byKey(attempts, true);
      for (const key of keys) {
        const expected = range(0, perKey).filter((seq) => key !== rejected.key || seq !== rejected.seq);
        expect(delivered.get(key), key).toEqual(expected);
      }
      // No event of a key was even attempted before the one ahead of it was done with.
      for (const [key, seqs] of byKey(attempts, false)) {
        for (let i = 1; i < seqs.length; i++) expect(seqs[i]!, key).toBeGreaterThanOrEqual(seqs[i - 1]!);
      }
      // The failing event was tried three times; while it waited, other keys were delivered.
      const tries = attempts
        .map((attempt, index) => ({ ...attempt, index }))
        .filter(({ key, seq }) => key === failing.key && seq === failing.seq);
      expect(tries.map(({ status }) => status)).toEqual([503, 503, 200]);
      const whileRetrying = attempts
        .slice(tries[0]!.index + 1, tries[2]!.index)
        .filter(({ key, status }) => key !== failing.key && status === 200);
      expect(whileRetrying.length).toBeGreaterThan(0);
      // The rejected event is in the dead-letter queue, and its key moved on (checked above).
      const queue = hub.engine.get(`${namespace}/ordered`)!.running!.queue.queue;
      expect(await countDeadLetters(queue)).toBe(1);
      const [entry] = await listDeadLetters(queue);
      expect(attemptOf(Buffer.from(JSON.stringify(entry!.event.data)))).toEqual(rejected);
      console.log(
        `ordered: ${whileRetrying.length} events of other keys delivered while ${failing.key}/${failing.seq} was retried`,
      );
    } finally {
      await hub?.close();
      await sink.close();
    }
  }, 180_000);

  it('a hub SIGKILLed mid-stream, restarted re-reading the whole topic, delivers everything once more at most, every key in order', async () => {
    const keys = keysOf(8);
    const perKey = 200;
    const total = keys.length * perKey;
    const attempts: Attempt[] = [];
    const sink = await startSink({
      respond: (request): Reply => {
        attempts.push({ ...attemptOf(request.body), status: 200 });
        return { status: 200, delayMs: 2 };
      },
    });
    const topic = await createTopic(4);
    await produce(topic, keys, perKey);
    const namespace = uniqueNamespace('ordered-kill');
    const dir = writeTriggerDir([orderedTrigger(namespace, topic, sink.url, { retries: 5 })]);
    const port = await freePort();
    let hub = await spawnHub(dir, port);
    try {
      await sink.waitFor(() => sink.delivered.size >= total / 4, 90_000, 'the first deliveries');
      hub.child.kill('SIGKILL');
      await hub.exited;
      const atKill = sink.delivered.size;
      // The restarted hub reads the topic from the start in a new consumer group: every message is emitted
      // again (delivered ones, the ones in flight, the ones waiting in their key) and must neither block its
      // key nor be delivered twice.
      const reread = orderedTrigger(
        namespace,
        topic,
        sink.url,
        { retries: 5 },
        { groupId: `${namespace}-reread` },
      );
      hub = await spawnHub(writeTriggerDir([reread]), port);
      // The heads the dead hub had in flight come back after BullMQ's stalled-job check (lock + interval).
      await sink
        .waitFor(() => sink.delivered.size === total, 150_000, `${total} deliveries`)
        .catch((error: Error) => {
          throw new Error(`${error.message} (${sink.delivered.size})\n${hub.output().slice(-4000)}`);
        });
      expect(atKill).toBeLessThan(total);
      const expectedIds = new Set<string>();
      for (const { partition, high, low } of await admin.fetchTopicOffsets(topic))
        for (let offset = Number(low); offset < Number(high); offset++)
          expectedIds.add(kafkaEventId(topic, partition, String(offset)));
      expect(sink.delivered).toEqual(expectedIds);
      // Per key: never backwards; a repeat only of the event just delivered (it was in flight at the kill).
      let repeats = 0;
      for (const [key, seqs] of byKey(attempts, true)) {
        const distinct = seqs.filter((seq, i) => i === 0 || seq !== seqs[i - 1]);
        repeats += seqs.length - distinct.length;
        expect(distinct, key).toEqual(range(0, perKey));
      }
      // At most one delivery per key was in flight when the hub died.
      expect(repeats).toBeLessThanOrEqual(keys.length);
      console.log(
        `ordered-kill: ${atKill} delivered before the kill, ${repeats} in-flight events delivered again`,
      );
    } finally {
      hub.child.kill('SIGKILL');
      await hub.exited;
      await sink.close();
    }
  }, 300_000);
});
