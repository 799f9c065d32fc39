// The JetStream backfill reader against the real nats-server of the service stack: a time window and a
// position window of a 2,000-message stream read exactly, with the live mapping's ids; a resumed read
// continues where the cursor stands; the trigger's durable consumer is not touched.

import { randomBytes } from 'node:crypto';
import { AckPolicy, connect, type JetStreamManager, type NatsConnection } from 'nats';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventInput } from '../../src/envelope/event.ts';
import { HubError } from '../../src/errors.ts';
import type { BackfillReaderOptions } from '../../src/sensor/backfill-reader.ts';
import type { TriggerRef } from '../../src/sensor/sensor.ts';
import { readAll } from '../../test/support/backfill.ts';
import { createJetStreamBackfillReader } from './backfill.ts';
import { natsSensor } from './index.ts';
import { jetStreamMessageToEvent, natsEventSource } from './message.ts';
import { defaultDurable } from './sensor.ts';
import { natsSpec } from './spec.ts';

function natsUrl(): string {
  const value = process.env.TH_NATS_URL;
  if (!value) throw new Error('TH_NATS_URL is not set: run with the integration project');
  return value;
}

const log = pino({ level: 'silent' });
const trigger: TriggerRef = { namespace: 'backfill', name: 'orders', key: 'backfill/orders' };
const total = 2000;
let nc: NatsConnection;
let jsm: JetStreamManager;
let stream: string;
let ordersSubject: string;
/** Every `orders` message as the live sensor maps it, in stream order: the truth the reader must match. */
let truth: EventInput[];
const durable = defaultDurable(trigger.namespace, trigger.name);

function spec(overrides: Record<string, unknown> = {}) {
  return natsSpec.parse({
    servers: [natsUrl()],
    jetstream: { stream, filterSubject: ordersSubject, batchSize: 150, ...overrides },
  });
}

function options(from: BackfillReaderOptions['from'], to: BackfillReaderOptions['to']) {
  return { from, to, signal: new AbortController().signal, log, trigger };
}

const sequenceOf = (event: EventInput) => Number(event.natssequence);
const timeOf = (event: EventInput) => Date.parse(event.time!);

/** Publishes `count` messages on `orders` (and every 10th also one on `audit`, which the filter excludes). */
async function publish(from: number, count: number): Promise<void> {
  const js = nc.jetstream();
  for (let start = from; start < from + count; start += 100) {
    const acks = [];
    for (let i = start; i < Math.min(from + count, start + 100); i++) {
      acks.push(js.publish(ordersSubject, JSON.stringify({ n: i })));
      if (i % 10 === 0) acks.push(js.publish(`${stream.toLowerCase()}.audit`, JSON.stringify({ n: i })));
    }
    await Promise.all(acks);
    // Spread the messages over time, so a time window cuts through the stream.
    await new Promise((resolve) => setTimeout(resolve, 15));
  }
}

/** The stream's `orders` messages read with the client's own ordered consumer, mapped as the live sensor does. */
async function liveMapping(): Promise<EventInput[]> {
  const consumer = await nc.jetstream().consumers.get(stream, { filterSubjects: ordersSubject });
  const events: EventInput[] = [];
  const messages = await consumer.consume();
  for await (const message of messages) {
    events.push(
      jetStreamMessageToEvent(message, { source: natsEventSource(trigger.key), eventType: spec().eventType }),
    );
    if (message.info.pending === 0) break;
  }
  await messages.close();
  // The client's ordered consumer is left to expire on the server: remove it, so the stream starts clean.
  for await (const info of await jsm.consumers.list(stream)) await jsm.consumers.delete(stream, info.name);
  return events;
}

async function durableState() {
  const info = await jsm.consumers.info(stream, durable);
  return {
    delivered: info.delivered.stream_seq,
    ackFloor: info.ack_floor.stream_seq,
    pending: info.num_pending,
    ackPending: info.num_ack_pending,
  };
}

let durableBefore: Awaited<ReturnType<typeof durableState>>;

beforeAll(async () => {
  nc = await connect({ servers: natsUrl() });
  jsm = await nc.jetstreamManager();
  stream = `TH_BF_${randomBytes(4).toString('hex').toUpperCase()}`;
  ordersSubject = `${stream.toLowerCase()}.orders`;
  await jsm.streams.add({ name: stream, subjects: [`${stream.toLowerCase()}.>`] });
  await publish(0, total);
  truth = await liveMapping();
  // The trigger's live durable consumer, part-way through the stream: 300 acked, 40 delivered but not acked.
  await jsm.consumers.add(stream, {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    filter_subject: ordersSubject,
    ack_wait: 3_600_000_000_000,
  });
  const live = await nc.jetstream().consumers.get(stream, durable);
  const pulled = await live.fetch({ max_messages: 340, expires: 5000 });
  let n = 0;
  for await (const message of pulled) if (n++ < 300) message.ack();
  await nc.flush();
  durableBefore = await durableState();
}, 120_000);

afterAll(async () => {
  await jsm.streams.delete(stream).catch(() => {});
  await nc.drain();
});

describe('JetStream backfill reader', () => {
  it('the stream holds 2,000 orders messages, spread over time (the fixture the windows cut through)', () => {
    expect(truth).toHaveLength(total);
    expect(durableBefore).toMatchObject({ ackFloor: expect.any(Number), ackPending: 40 });
    expect(timeOf(truth.at(-1)!) - timeOf(truth[0]!)).toBeGreaterThan(100);
  });

  it('a time window: exactly the messages stored in [from, to), in stream order, mapped like the live sensor', async () => {
    const from = new Date(timeOf(truth[500]!));
    const to = new Date(timeOf(truth[1500]!));
    const expected = truth.filter((event) => timeOf(event) >= from.getTime() && timeOf(event) < to.getTime());
    expect(expected.length).toBeGreaterThan(800);
    expect(expected.length).toBeLessThan(1200);
    const reader = createJetStreamBackfillReader(spec(), options({ time: from }, { time: to }));
    expect(await reader.estimate()).toBe(expected.length);
    const batches = await readAll(reader);
    expect(batches.flatMap((batch) => batch.events)).toEqual(expected);
    for (const batch of batches) expect(batch.events.length).toBeLessThanOrEqual(150);
    expect(batches.at(-1)!.cursor.sequence).toBe(String(sequenceOf(expected.at(-1)!) + 1));
  }, 60_000);

  it('a position window: from seq:N (inclusive) to M (exclusive), only the filter subject', async () => {
    const fromSeq = sequenceOf(truth[200]!) - 1; // an `audit` message or an `orders` one: either way a start
    const toSeq = sequenceOf(truth[1700]!);
    const expected = truth.filter((event) => sequenceOf(event) >= fromSeq && sequenceOf(event) < toSeq);
    const reader = createJetStreamBackfillReader(
      spec(),
      options({ position: `seq:${fromSeq}` }, { position: String(toSeq) }),
    );
    expect(await reader.estimate()).toBe(expected.length);
    const events = (await readAll(reader)).flatMap((batch) => batch.events);
    expect(events.map((event) => event.id)).toEqual(expected.map((event) => event.id));
    expect(events.at(-1)!.id).toBe(truth[1699]!.id);
  }, 60_000);

  it('resumes from the last cursor of an interrupted read: the rest comes, no overlap, no gap', async () => {
    const to = new Date(timeOf(truth[1900]!));
    const window = options({ position: 'seq:1' }, { time: to });
    const expected = truth.filter((event) => timeOf(event) < to.getTime());
    const first = await readAll(createJetStreamBackfillReader(spec(), window), 4);
    expect(first).toHaveLength(4);
    const cursor = first.at(-1)!.cursor;
    const rest = await readAll(createJetStreamBackfillReader(spec(), { ...window, cursor }));
    const ids = [...first, ...rest].flatMap((batch) => batch.events.map((event) => event.id));
    expect(ids).toEqual(expected.map((event) => event.id));
  }, 60_000);

  it('a consumer the server dropped mid-read (idle too long while the runner held back) is re-created: nothing lost', async () => {
    const reader = createJetStreamBackfillReader(
      spec(),
      options({ position: '1' }, { position: 'seq:100000' }),
    );
    const events: EventInput[] = [];
    try {
      for await (const batch of reader.read()) {
        events.push(...batch.events);
        if (events.length === 300 || events.length === 1200) {
          for await (const info of await jsm.consumers.list(stream))
            if (info.name !== durable) await jsm.consumers.delete(stream, info.name);
        }
      }
    } finally {
      await reader.close();
    }
    expect(events.map((event) => event.id)).toEqual(truth.map((event) => event.id));
  }, 60_000);

  it('an empty window ends at once', async () => {
    const later = new Date(Date.now() + 60_000);
    const reader = createJetStreamBackfillReader(
      spec(),
      options({ time: later }, { time: new Date(later.getTime() + 1000) }),
    );
    expect(await reader.estimate()).toBe(0);
    expect(await readAll(reader)).toEqual([]);
  }, 30_000);

  it("leaves the trigger's durable consumer as it was, and no consumer of its own behind", async () => {
    expect(await durableState()).toEqual(durableBefore);
    const names: string[] = [];
    for await (const info of await jsm.consumers.list(stream)) names.push(info.name);
    expect(names).toEqual([durable]);
  });

  it('bad input: a clear error naming the field', async () => {
    const at = (ms: number) => ({ time: new Date(ms) });
    const fail = (from: BackfillReaderOptions['from'], to: BackfillReaderOptions['to']) => () =>
      createJetStreamBackfillReader(spec(), options(from, to));
    expect(fail(at(2000), at(1000))).toThrow(/^from: .* is after to: /);
    expect(fail({ position: 'seq:20' }, { position: '10' })).toThrow(/^from: seq:20 is after to: seq:10/);
    expect(fail({ position: 'seq:abc' }, at(1000))).toThrow(/^from: "seq:abc" is not a JetStream position/);
    expect(fail(at(1000), { position: '0' })).toThrow(/^to: "0" is not a JetStream position/);
    try {
      fail({ position: '-1' }, at(1000))();
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(HubError);
      expect((error as HubError).code).toBe('TH_ERR_BAD_REQUEST');
    }

    const unknown = createJetStreamBackfillReader(
      spec({ stream: 'TH_NO_SUCH_STREAM' }),
      options({ position: '1' }, at(Date.now())),
    );
    await expect(readAll(unknown)).rejects.toThrow(
      /^spec.source.nats.jetstream.stream: no stream "TH_NO_SUCH_STREAM"/,
    );

    const core = natsSpec.parse({ servers: [natsUrl()], subject: 'a.b' });
    expect(() => createJetStreamBackfillReader(core, options({ position: '1' }, at(1000)))).toThrow(
      expect.objectContaining({ code: 'TH_ERR_BACKFILL_UNSUPPORTED' }),
    );
  }, 30_000);

  it('is the reader the nats sensor registers for backfills', async () => {
    expect(await natsSensor.backfill!()).toBe(createJetStreamBackfillReader);
  });
  it('stops at the last message stored when the backfill started, even with `to` in the future', async () => {
    const reader = createJetStreamBackfillReader(
      spec(),
      options({ time: new Date(timeOf(truth[1800]!)) }, { time: new Date(Date.now() + 3_600_000) }),
    );
    const events: EventInput[] = [];
    let published = false;
    try {
      for await (const batch of reader.read()) {
        events.push(...batch.events);
        if (!published) {
          published = true;
          await publish(total, 50); // after the start: live traffic, not part of this backfill
        }
      }
    } finally {
      await reader.close();
    }
    const expected = truth.filter((event) => timeOf(event) >= timeOf(truth[1800]!));
    expect(events.map((event) => event.id)).toEqual(expected.map((event) => event.id));
    // The durable consumer sees the new messages as pending, as it should; its position did not move.
    const { pending: _, ...position } = await durableState();
    const { pending: __, ...positionBefore } = durableBefore;
    expect(position).toEqual(positionBefore);
  }, 60_000);
});
