// Fuzz: the pure mapping of broker messages (Kafka, NATS JetStream and core, Kinesis records) to the hub's
// envelope. Whatever the bytes and headers, the mapping never throws, the event id is always the message's
// position, the event is a well-formed envelope that can be serialized and delivered, a message the hub
// cannot use is poison with a reason and its bytes kept, and good messages round-trip.

import fc from 'fast-check';
import type { JsMsg, Msg, MsgHdrs } from 'nats';
import { describe, expect, it } from 'vitest';
import { kafkaEventId, kafkaMessageToEvent } from '../../../sensors/kafka/message.ts';
import { kinesisEventId, recordToEvent } from '../../../sensors/kinesis/record.ts';
import {
  coreMessageToEvent,
  jetStreamEventId,
  jetStreamMessageToEvent,
} from '../../../sensors/nats/message.ts';
import { type EventInput, eventBody, toHubEvent } from '../../../src/envelope/event.ts';
import { decodeHeaderValue, encodeHeaderValue } from '../../../src/envelope/header-encoding.ts';
import { fuzzTally, fuzzTimeout } from '../../support/fuzz.ts';

const tally = fuzzTally('broker messages (Kafka, NATS, Kinesis)');
const context = { source: '/triggerhub/fuzz', eventType: 'io.triggerhub.fuzz' };

/** What every mapped event must be, whatever went in. */
function expectEnvelope(event: EventInput, id: string, value: Buffer | null): void {
  expect(event.id).toBe(id);
  for (const name of ['source', 'type'] as const) {
    expect(typeof event[name]).toBe('string');
    expect(event[name]).not.toBe('');
  }
  expect(event.data !== undefined && event.data_base64 !== undefined).toBe(false);
  if (event.poison !== undefined) {
    expect(typeof event.poison).toBe('string');
    expect(event.poison).not.toBe('');
    // The bytes stay in the dead-letter entry so the producer's bug can be seen and the event replayed.
    if (value !== null && value.length > 0)
      expect(Buffer.from(event.data_base64 as string, 'base64').equals(value)).toBe(true);
  }
  // What the queue stores and the target receives.
  expect(() => JSON.parse(JSON.stringify(event))).not.toThrow();
  const hubEvent = toHubEvent(event);
  expect(() => eventBody(hubEvent)).not.toThrow();
}

const ceNames = [
  'specversion',
  'id',
  'source',
  'type',
  'subject',
  'time',
  'datacontenttype',
  'dataschema',
  'tenant',
  'Bad-Name',
  'data',
];
const contentTypes = [
  'application/json',
  'application/json; charset=utf-8',
  'application/cloudevents+json',
  'application/cloudevents-batch+json',
  'APPLICATION/CLOUDEVENTS+JSON; charset=utf-8',
  'text/plain',
  'application/octet-stream',
  'application/vnd.x+json',
  ';;',
  '',
];

const text = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.constantFrom('1.0', '0.3', '', '2026-11-29T10:00:00Z', 'not a time'),
);
const bytes = fc.uint8Array({ maxLength: 64 }).map((array) => Buffer.from(array));

/** A CloudEvent in JSON, often broken: an attribute missing, of the wrong type, or both data and data_base64. */
const structuredValue = fc
  .record(
    {
      specversion: fc.oneof(fc.constant('1.0'), fc.jsonValue({ maxDepth: 0 })),
      id: fc.oneof(fc.string({ minLength: 1, maxLength: 10 }), fc.jsonValue({ maxDepth: 0 })),
      source: fc.oneof(fc.string({ minLength: 1, maxLength: 10 }), fc.jsonValue({ maxDepth: 0 })),
      type: fc.oneof(fc.string({ minLength: 1, maxLength: 10 }), fc.jsonValue({ maxDepth: 0 })),
      subject: fc.jsonValue({ maxDepth: 0 }),
      time: fc.oneof(fc.constant('2026-11-29T10:00:00Z'), text, fc.integer()),
      data: fc.jsonValue({ maxDepth: 2 }),
      data_base64: fc.oneof(
        bytes.map((b) => b.toString('base64')),
        fc.integer(),
      ),
      tenant: fc.oneof(fc.string(), fc.integer(), fc.jsonValue({ maxDepth: 1 })),
      'Bad-Name': fc.string(),
    },
    { requiredKeys: [] },
  )
  .map((event) => Buffer.from(JSON.stringify(event)));

const value = fc.oneof(
  fc.constant(null),
  bytes,
  fc.jsonValue({ maxDepth: 3 }).map((json) => Buffer.from(JSON.stringify(json))),
  fc.string({ maxLength: 40 }).map((s) => Buffer.from(s)),
  structuredValue,
  // JSON cut short.
  fc.jsonValue({ maxDepth: 3 }).map((json) => Buffer.from(JSON.stringify(json).slice(0, -1))),
);

/** Headers: binary-mode attributes with the broker's prefix, a content type, and random others. */
const headerList = (prefix: string) =>
  fc.array(
    fc.tuple(
      fc.oneof(
        fc.constantFrom(...ceNames).map((name) => `${prefix}${name}`),
        fc.constantFrom('content-type', 'Content-Type', 'traceparent', 'x-request-id', 'Nats-Msg-Id'),
        fc.string({ minLength: 1, maxLength: 10 }),
      ),
      fc.oneof(
        text,
        fc.constantFrom(...contentTypes),
        bytes.map((b) => b.toString('latin1')),
      ),
    ),
    { maxLength: 8 },
  );

describe('fuzz: broker messages → events', { timeout: fuzzTimeout(120_000) }, () => {
  it('Kafka: any message maps without throwing to a well-formed event whose id is its position', async () => {
    await tally.check(
      fc.property(
        fc.string({ minLength: 1, maxLength: 20 }),
        fc.nat(1000),
        fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }).map(String),
        fc.oneof(fc.constant(null), bytes),
        fc.oneof(fc.constant(''), fc.constant('-1'), fc.string({ maxLength: 15 }), fc.nat().map(String)),
        headerList('ce_'),
        fc.oneof(
          bytes,
          fc.string().map((s) => Buffer.from(s)),
        ),
        value,
        (topic, partition, offset, key, timestamp, headers, binaryHeader, messageValue) => {
          const message = {
            offset,
            timestamp,
            attributes: 0,
            key,
            value: messageValue,
            headers: {
              ...Object.fromEntries(headers.map(([name, v]) => [name, Buffer.from(v)])),
              // Repeated headers arrive as arrays; binary values are dropped, not mis-decoded.
              'x-binary': [binaryHeader, Buffer.from('second')],
            },
          };
          const event = kafkaMessageToEvent(topic, partition, message, context);
          expectEnvelope(event, kafkaEventId(topic, partition, offset), messageValue);
          expect(event).toMatchObject({ kafkatopic: topic, kafkapartition: partition, kafkaoffset: offset });
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('NATS: any JetStream or core message maps without throwing; a JetStream id is the stream position', async () => {
    const natsHeaders = (list: Array<[string, string]>): MsgHdrs => {
      const map = new Map<string, string[]>();
      for (const [name, v] of list) map.set(name, [...(map.get(name) ?? []), v]);
      return {
        [Symbol.iterator]: () => map.entries(),
        get: (name: string) => map.get(name)?.[0] ?? '',
      } as unknown as MsgHdrs;
    };
    await tally.check(
      fc.property(
        fc.string({ minLength: 1, maxLength: 20 }),
        fc.nat(),
        fc.string({ minLength: 1, maxLength: 20 }),
        headerList('ce-'),
        value,
        fc.boolean(),
        (stream, sequence, subject, headers, messageValue, jetstream) => {
          const data = new Uint8Array(messageValue ?? []);
          if (jetstream) {
            const message = {
              subject,
              data,
              headers: headers.length ? natsHeaders(headers) : undefined,
              info: { stream, streamSequence: sequence, timestampNanos: Date.now() * 1e6 },
            } as unknown as JsMsg;
            const event = jetStreamMessageToEvent(message, context);
            expectEnvelope(event, jetStreamEventId(stream, sequence), messageValue);
            expect(event).toMatchObject({ natsstream: stream, natssequence: sequence });
            // A plain (or poison) message takes the NATS subject; a CloudEvent keeps its own, or has none.
            if (event.originalid === undefined) expect(event.subject).toBe(subject);
            else expect(['string', 'undefined']).toContain(typeof event.subject);
          } else {
            const message = {
              subject,
              data,
              headers: headers.length ? natsHeaders(headers) : undefined,
            } as unknown as Msg;
            const event = coreMessageToEvent(message, context);
            expectEnvelope(event, event.id, messageValue);
            expect(event.id.startsWith('nats/')).toBe(true);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('Kinesis: any record maps without throwing; its id is shard and sequence number; data round-trips', async () => {
    await tally.check(
      fc.property(
        fc.string({ minLength: 1, maxLength: 30 }),
        fc.record(
          {
            SequenceNumber: fc.oneof(fc.bigInt({ min: 0n, max: 10n ** 56n }).map(String), fc.string()),
            ApproximateArrivalTimestamp: fc.date(),
            Data: fc.oneof(
              bytes,
              fc.jsonValue({ maxDepth: 3 }).map((json) => Buffer.from(JSON.stringify(json))),
              bytes.map((b) => Buffer.concat([Buffer.from([0xf3, 0x89, 0x9a, 0xc2]), b])),
            ),
            PartitionKey: fc.string(),
            EncryptionType: fc.constantFrom('NONE', 'KMS'),
          },
          { requiredKeys: [] },
        ),
        (shardId, record) => {
          const event = recordToEvent(record, shardId, { source: context.source, type: context.eventType });
          expectEnvelope(event, kinesisEventId(shardId, record.SequenceNumber ?? ''), null);
          const data = Buffer.from(record.Data ?? []);
          // Data round-trips: as JSON when it is UTF-8 JSON (and not KPL-aggregated), as the very bytes otherwise.
          if (event.data_base64 !== undefined)
            expect(Buffer.from(event.data_base64, 'base64').equals(data)).toBe(true);
          else expect(event.data).toEqual(JSON.parse(data.toString('utf8')));
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('valid CloudEvents round-trip in structured and binary mode (Kafka), keeping attributes and data', async () => {
    const attributes = fc.record({
      id: fc.string({ minLength: 1, maxLength: 20 }),
      source: fc.string({ minLength: 1, maxLength: 20 }),
      type: fc.string({ minLength: 1, maxLength: 20 }),
      subject: fc.string({ maxLength: 20 }),
      tenant: fc.string({ maxLength: 10 }),
    });
    await tally.check(
      fc.property(attributes, fc.jsonValue({ maxDepth: 3 }), fc.boolean(), (ce, data, structured) => {
        const message = structured
          ? {
              value: Buffer.from(JSON.stringify({ specversion: '1.0', ...ce, data })),
              headers: { 'content-type': Buffer.from('application/cloudevents+json') },
            }
          : {
              value: Buffer.from(JSON.stringify(data)),
              headers: {
                'content-type': Buffer.from('application/json'),
                ce_specversion: Buffer.from('1.0'),
                ...Object.fromEntries(Object.entries(ce).map(([name, v]) => [`ce_${name}`, Buffer.from(v)])),
              },
            };
        const event = kafkaMessageToEvent(
          't',
          0,
          { offset: '7', timestamp: '0', attributes: 0, key: null, ...message },
          context,
        );
        expect(event.poison).toBeUndefined();
        const { id, ...kept } = ce;
        expect(event).toMatchObject({ ...kept, originalid: id, id: kafkaEventId('t', 0, '7') });
        // In the JSON format a null member is an absent one: a structured event with "data": null has no data.
        const expected = structured && data === null ? undefined : JSON.parse(JSON.stringify(data));
        expect(event.data).toEqual(expected);
      }),
      { numRuns: 1000 },
    );
  });

  it('ce-* header values round-trip through the HTTP binding encoding, and are always legal header text', async () => {
    await tally.check(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'grapheme', maxLength: 20 }),
          fc.string({ unit: 'binary', maxLength: 30 }),
        ),
        (raw) => {
          const encoded = encodeHeaderValue(raw);
          expect(encoded).toMatch(/^[\x20-\x7e]*$/);
          // Well-formed text comes back as it was (a lone surrogate has no UTF-8 form to come back from).
          if (raw.isWellFormed()) expect(decodeHeaderValue(encoded)).toBe(raw);
        },
      ),
      { numRuns: 1500 },
    );
  });
});
