// Kafka messages recorded from the real broker (fixtures/messages.json) → the hub's envelope.

import { readFileSync } from 'node:fs';
import type { KafkaMessage } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { kafkaMessageToEvent } from './message.ts';
import { defaultGroupId } from './sensor.ts';
import { kafkaSpec } from './spec.ts';

interface Recorded {
  partition: number;
  offset: string;
  timestamp: string;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
}

const fixture = JSON.parse(readFileSync(new URL('./fixtures/messages.json', import.meta.url), 'utf8')) as {
  topic: string;
  messages: Recorded[];
};

function message(index: number): KafkaMessage {
  const recorded = fixture.messages[index]!;
  return {
    offset: recorded.offset,
    timestamp: recorded.timestamp,
    attributes: 0,
    key: recorded.key === null ? null : Buffer.from(recorded.key, 'base64'),
    value: recorded.value === null ? null : Buffer.from(recorded.value, 'base64'),
    headers: Object.fromEntries(
      Object.entries(recorded.headers).map(([name, value]) => [name, Buffer.from(value, 'base64')]),
    ),
  };
}

const context = { source: '/triggerhub/kafka/shop/etl', eventType: 'io.triggerhub.kafka.message' };
const convert = (index: number) => kafkaMessageToEvent(fixture.topic, 0, message(index), context);

describe('a Kafka message becomes a CloudEvent', () => {
  it('a binary-mode CloudEvent keeps its attributes; its id becomes the position and the original is kept', () => {
    const event = convert(0);
    expect(event).toMatchObject({
      id: 'kafka/orders/0/0',
      originalid: 'b5d3f0a2-order-1042',
      source: '/shop/orders',
      type: 'com.example.order.created',
      subject: 'order-1042',
      partitionkey: 'customer-77',
      datacontenttype: 'application/json',
      data: { orderId: 1042, total: 99.5, currency: 'EUR' },
      kafkatopic: 'orders',
      kafkapartition: 0,
      kafkaoffset: '0',
    });
    expect(event.time).toMatch(/^2026-/);
    expect(event.poison).toBeUndefined();
  });

  it('a structured CloudEvent keeps its attributes and data', () => {
    expect(convert(1)).toMatchObject({
      id: 'kafka/orders/0/1',
      originalid: 'b5d3f0a2-order-1043',
      source: '/shop/orders',
      subject: 'order-1043',
      data: { orderId: 1042, total: 99.5, currency: 'EUR' },
    });
  });

  it('a plain JSON message is JSON data; its key is the partitionkey; legal header names become extensions', () => {
    const event = convert(2);
    expect(event).toMatchObject({
      id: 'kafka/orders/0/2',
      source: context.source,
      type: context.eventType,
      subject: 'orders',
      partitionkey: 'customer-77',
      datacontenttype: 'application/json',
      data: { orderId: 1044, total: 12 },
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    });
    expect(event).not.toHaveProperty('x-source-app');
    expect(event.time).toBe(new Date(Number(fixture.messages[2]!.timestamp)).toISOString());
  });

  it('bytes that are not UTF-8 travel as data_base64, application/octet-stream; a binary key as base64', () => {
    const event = convert(3);
    expect(event.datacontenttype).toBe('application/octet-stream');
    expect(Buffer.from(event.data_base64!, 'base64')).toEqual(message(3).value);
    expect(event.partitionkey).toBe(Buffer.from([0x01, 0x02, 0xff]).toString('base64'));
    expect(event.poison).toBeUndefined();
  });

  it('a value declared JSON that does not parse is poison, with the reason and the raw bytes', () => {
    const event = convert(4);
    expect(event.poison).toMatch(/declared application\/json but is not valid JSON/);
    expect(Buffer.from(event.data_base64!, 'base64').toString()).toBe('{"orderId": 1045, "total": ');
  });

  it('a tombstone (null value) is an event without data', () => {
    const event = convert(5);
    expect(event.data).toBeUndefined();
    expect(event.data_base64).toBeUndefined();
    expect(event.poison).toBeUndefined();
  });

  it('UTF-8 text that is not JSON is text/plain', () => {
    const event = kafkaMessageToEvent('t', 2, { ...message(2), value: Buffer.from('héllo wörld') }, context);
    expect(event).toMatchObject({ datacontenttype: 'text/plain; charset=utf-8', data: 'héllo wörld' });
  });

  it('a binary-mode CloudEvent without a source, or with another specversion, is poison', () => {
    const base = message(0);
    const headers = { ...base.headers };
    delete headers.ce_source;
    expect(kafkaMessageToEvent('t', 0, { ...base, headers } as KafkaMessage, context).poison).toMatch(
      /no source/,
    );
    const v03 = { ...base.headers, ce_specversion: Buffer.from('0.3') };
    expect(kafkaMessageToEvent('t', 0, { ...base, headers: v03 } as KafkaMessage, context).poison).toMatch(
      /specversion/,
    );
  });

  it('the same position always gives the same id, whatever the content', () => {
    const a = kafkaMessageToEvent('t', 1, { ...message(2), offset: '77' }, context);
    const b = kafkaMessageToEvent('t', 1, { ...message(0), offset: '77' }, context);
    expect(a.id).toBe(b.id);
    expect(a.id).toBe('kafka/t/1/77');
  });
});

describe('the kafka source spec', () => {
  const base = { brokers: ['127.0.0.1:9092'] };
  it('wants exactly one of topics and topicPattern', () => {
    expect(kafkaSpec.safeParse(base).success).toBe(false);
    expect(kafkaSpec.safeParse({ ...base, topics: ['a'], topicPattern: 'a.*' }).success).toBe(false);
    expect(kafkaSpec.safeParse({ ...base, topics: ['a'] }).success).toBe(true);
    expect(kafkaSpec.safeParse({ ...base, topicPattern: '^orders\\..*' }).success).toBe(true);
  });

  it('rejects an invalid regular expression', () => {
    expect(kafkaSpec.safeParse({ ...base, topicPattern: '(' }).success).toBe(false);
  });

  it('defaults to latest, and the group id to trigger-hub.<namespace>.<name>', () => {
    expect(kafkaSpec.parse({ ...base, topics: ['a'] }).startFrom).toBe('latest');
    expect(defaultGroupId('shop', 'etl')).toBe('trigger-hub.shop.etl');
  });

  it('takes SASL with a password reference, never a password', () => {
    const sasl = { mechanism: 'scram-sha-512', username: 'hub', password: { env: 'KAFKA_PASSWORD' } };
    expect(kafkaSpec.safeParse({ ...base, topics: ['a'], sasl }).success).toBe(true);
    expect(
      kafkaSpec.safeParse({ ...base, topics: ['a'], sasl: { ...sasl, password: 'hunter2' } }).success,
    ).toBe(false);
  });
});
