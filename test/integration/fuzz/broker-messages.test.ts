// Malformed messages through the real brokers, end to end: a few hundred Kafka and JetStream messages,
// good and bad mixed (JSON that is not, broken structured CloudEvents, batches, binary-mode events with a
// wrong specversion, random bytes), consumed by a real hub. Every message ends up either delivered or in
// the dead-letter queue with the parse error as its reason, and the good ones keep flowing around the bad.

import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { Kafka, logLevel } from 'kafkajs';
import { connect, type NatsConnection, headers as natsHeaders } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kafkaEventId } from '../../../sensors/kafka/message.ts';
import { jetStreamEventId } from '../../../sensors/nats/message.ts';
import type { Hub } from '../../../src/hub.ts';
import { listDeadLetters } from '../../../src/queue/dead-letter.ts';
import { fuzzTally, fuzzTimeout, watchUnhandledRejections } from '../../support/fuzz.ts';
import { startTestHub, triggerDoc, uniqueNamespace } from '../../support/hub.ts';
import { type Sink, startSink } from '../../support/sink.ts';

const tally = fuzzTally('malformed messages through Kafka and JetStream');

interface Case {
  headers: Record<string, string>;
  value: Buffer;
  /** undefined: must be delivered; otherwise the dead-letter reason must match. */
  poison?: RegExp;
}

const json = fc.jsonValue({ maxDepth: 2 }).map((value) => JSON.stringify(value));
const cases = (prefix: string): fc.Arbitrary<Case> =>
  fc.oneof(
    json.map((value) => ({ headers: { 'content-type': 'application/json' }, value: Buffer.from(value) })),
    fc
      .uint8Array({ minLength: 1, maxLength: 40 })
      .map((bytes) => ({ headers: {}, value: Buffer.from(bytes) })),
    json.map((value) => ({
      headers: { 'content-type': 'application/json' },
      value: Buffer.from(`${value}}{`),
      poison: /TH_ERR_POISON_EVENT: the value is declared application\/json but is not valid JSON/,
    })),
    fc
      .record(
        {
          id: fc.string({ maxLength: 5 }),
          type: fc.jsonValue({ maxDepth: 0 }),
          data: fc.jsonValue({ maxDepth: 1 }),
        },
        { requiredKeys: [] },
      )
      .map((event) => ({
        headers: { 'content-type': 'application/cloudevents+json' },
        // No source: never a valid CloudEvent.
        value: Buffer.from(JSON.stringify({ specversion: '1.0', ...event })),
        poison: /TH_ERR_POISON_EVENT: a malformed structured CloudEvent/,
      })),
    json.map((value) => ({
      headers: { 'content-type': 'application/cloudevents-batch+json' },
      value: Buffer.from(`[${value}]`),
      poison: /TH_ERR_POISON_EVENT: a CloudEvents batch cannot be one message/,
    })),
    fc.constantFrom('0.3', '2.0', '').map((version) => ({
      headers: {
        [`${prefix}specversion`]: version || 'x',
        [`${prefix}id`]: 'a',
        [`${prefix}source`]: '/s',
        [`${prefix}type`]: 't',
      },
      value: Buffer.from('{}'),
      poison: /TH_ERR_POISON_EVENT: a malformed binary-mode CloudEvent: unsupported CloudEvents specversion/,
    })),
  );

describe('malformed messages through the real brokers', { timeout: fuzzTimeout(300_000) }, () => {
  let hub: Hub;
  let sink: Sink;
  let nc: NatsConnection;
  const ns = uniqueNamespace('fuzz-broker');
  const topic = `th-fuzz-${randomBytes(4).toString('hex')}`;
  const stream = `TH_FUZZ_${randomBytes(4).toString('hex').toUpperCase()}`;
  const kafka = new Kafka({
    clientId: 'th-fuzz',
    brokers: (process.env.TH_KAFKA_BROKERS ?? '').split(','),
    logLevel: logLevel.NOTHING,
  });
  const rejections = watchUnhandledRejections();

  beforeAll(async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    await admin.disconnect();
    nc = await connect({ servers: process.env.TH_NATS_URL });
    await (await nc.jetstreamManager()).streams.add({
      name: stream,
      subjects: [`${stream.toLowerCase()}.>`],
    });
    sink = await startSink();
    const target = { http: { url: sink.url } };
    const delivery = { retries: 1, backoff: { initialMs: 50, maxMs: 200 } };
    hub = await startTestHub([
      triggerDoc(ns, 'kafka', {
        source: {
          kafka: {
            brokers: (process.env.TH_KAFKA_BROKERS ?? '').split(','),
            topics: [topic],
            startFrom: 'earliest',
            sessionTimeoutMs: 6000,
          },
        },
        target,
        delivery,
      }),
      triggerDoc(ns, 'js', {
        source: { nats: { servers: [process.env.TH_NATS_URL], jetstream: { stream } } },
        target,
        delivery,
      }),
    ]);
  });

  afterAll(async () => {
    await hub?.close();
    await sink?.close();
    await (await nc?.jetstreamManager())?.streams.delete(stream).catch(() => {});
    await nc?.drain();
    rejections.stop();
  });

  async function expectFates(trigger: string, expected: Map<string, Case>): Promise<void> {
    const queue = hub.engine.get(`${ns}/${trigger}`)!.running!.queue.queue;
    const poisoned = [...expected].filter(([, c]) => c.poison);
    const good = [...expected].filter(([, c]) => !c.poison);
    expect(poisoned.length).toBeGreaterThan(20);
    expect(good.length).toBeGreaterThan(20);
    await sink.waitFor(
      () => good.every(([id]) => sink.delivered.has(id)),
      120_000,
      `${good.length} good ${trigger} messages`,
    );
    let reasons = new Map<string, string>();
    const deadline = Date.now() + 60_000;
    while (poisoned.some(([id]) => !reasons.has(id)) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      reasons = new Map(
        (await listDeadLetters(queue, { limit: 10_000 })).map((entry) => [entry.event.id, entry.reason]),
      );
    }
    for (const [id, c] of poisoned) {
      expect(reasons.get(id), id).toMatch(c.poison!);
      expect(sink.delivered.has(id)).toBe(false);
    }
    tally.add(expected.size);
  }

  it('Kafka: every message is delivered or dead-lettered with its parse error', async () => {
    const sample = fc.sample(cases('ce_'), 200);
    const producer = kafka.producer();
    await producer.connect();
    const [sent] = await producer.send({
      topic,
      acks: -1,
      messages: sample.map((c) => ({ value: c.value, headers: c.headers })),
    });
    await producer.disconnect();
    const base = BigInt(sent!.baseOffset ?? '0');
    const expected = new Map(sample.map((c, i) => [kafkaEventId(topic, 0, String(base + BigInt(i))), c]));
    await expectFates('kafka', expected);
  });

  it('JetStream: every message is delivered or dead-lettered with its parse error; no rejection went unhandled', async () => {
    const js = nc.jetstream();
    const expected = new Map<string, Case>();
    for (const c of fc.sample(cases('ce-'), 200)) {
      const h = natsHeaders();
      for (const [name, value] of Object.entries(c.headers)) h.set(name, value);
      const ack = await js.publish(`${stream.toLowerCase()}.fuzz`, c.value, { headers: h });
      expected.set(jetStreamEventId(stream, ack.seq), c);
    }
    await expectFates('js', expected);
    expect(rejections.reasons).toEqual([]);
  });
});
