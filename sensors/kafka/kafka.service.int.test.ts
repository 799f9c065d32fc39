import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { serviceEnv } from '../../test/setup/env.ts';

describe('kafka (KRaft single node)', () => {
  const kafka = new Kafka({
    clientId: 'trigger-hub-smoke',
    brokers: serviceEnv('TH_KAFKA_BROKERS').TH_KAFKA_BROKERS.split(','),
    logLevel: logLevel.NOTHING,
  });
  const id = randomUUID();
  const topic = `smoke-${id}`;
  const groupId = `smoke-group-${id}`;
  const admin = kafka.admin();
  const producer = kafka.producer();
  const consumer = kafka.consumer({ groupId });

  afterAll(async () => {
    await consumer.disconnect();
    await producer.disconnect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  });

  it('produces to a 3-partition topic and a consumer group reads and commits every message', async () => {
    await admin.connect();
    expect(await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true })).toBe(
      true,
    );

    await producer.connect();
    const messages = Array.from({ length: 9 }, (_, i) => ({ key: `k${i}`, value: `message ${i}` }));
    const sent = await producer.send({ topic, messages });
    expect(sent.every((r) => r.errorCode === 0)).toBe(true);

    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    const received: string[] = [];
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          eachMessage: async ({ message }) => {
            received.push(message.value!.toString());
            if (received.length === messages.length) resolve();
          },
        })
        .catch(reject);
    });
    expect(received.sort()).toEqual(messages.map((m) => m.value).sort());

    // Offsets are committed for the group: what a restarted sensor resumes from.
    await consumer.stop();
    const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
    const total = committed[0]!.partitions.reduce((n, p) => n + Number(p.offset), 0);
    expect(total).toBe(messages.length);
  });
});
