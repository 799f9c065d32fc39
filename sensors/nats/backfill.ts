// Re-reads a range of a JetStream stream for a backfill: an ephemeral pull consumer (no durable name, acks
// off, in memory, deleted by us at the end and by the server after `inactive_threshold` if the hub dies),
// created on the trigger's stream and filter subject from a start time or sequence. It never looks at the
// trigger's durable consumer, so the live stream's ack floor and pending counts are untouched.
//
// Positions are stream sequences: `seq:1200` or `1200`. `from` is inclusive, `to` exclusive; a time bound
// compares the message's stream time (ms, as in the event's `time`). The read also stops at the stream's
// last sequence when the backfill started (kept in the cursor, so a resumed run stops at the same place):
// what came after is the live consumer's business.

import {
  AckPolicy,
  type ConsumerConfig,
  type ConsumerMessages,
  connect,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type NatsConnection,
  type NatsError,
  nanos,
} from 'nats';
import type { EventInput } from '../../src/envelope/event.ts';
import { HubError } from '../../src/errors.ts';
import type {
  BackfillBatch,
  BackfillBound,
  BackfillCursor,
  BackfillReader,
  BackfillReaderOptions,
} from '../../src/sensor/backfill-reader.ts';
import type { TriggerRef } from '../../src/sensor/sensor.ts';
import { jetStreamMessageToEvent, natsEventSource } from './message.ts';
import { connectionOptions } from './sensor.ts';
import type { JetStreamSpec, NatsSpec } from './spec.ts';

const streamNotFound = 10059;
const consumerNotFound = 10014;
/** Server-side clean-up of a consumer whose hub died mid-backfill (ours are deleted explicitly). */
const inactiveThreshold = nanos(5 * 60_000);
/** How long one pull waits for messages: only the empty tail of a window ever waits it out. */
const fetchExpiresMs = 2000;

/** A JetStream position: a stream sequence, written `seq:N` or `N` (N ≥ 1). */
export function parseSequencePosition(position: string, field: string): number {
  const match = /^(?:seq:)?([1-9]\d{0,15})$/.exec(position.trim());
  const sequence = match ? Number(match[1]) : Number.NaN;
  if (!Number.isSafeInteger(sequence))
    throw new HubError(
      'TH_ERR_BAD_REQUEST',
      `${field}: "${position}" is not a JetStream position; expected a stream sequence, seq:<N> or <N> (N ≥ 1)`,
    );
  return sequence;
}

function consumerGone(error: unknown): boolean {
  return (
    (error as NatsError).api_error?.err_code === consumerNotFound ||
    /consumer (not found|deleted)/i.test((error as Error).message ?? '')
  );
}

interface Bound {
  sequence?: number;
  /** ms since the epoch */
  time?: number;
}

function bound(value: BackfillBound, field: string): Bound {
  if ('time' in value) {
    const time = value.time.getTime();
    if (Number.isNaN(time)) throw new HubError('TH_ERR_BAD_REQUEST', `${field}: not a valid time`);
    return { time };
  }
  return { sequence: parseSequencePosition(value.position, field) };
}

function checkOrder(from: Bound, to: Bound): void {
  const after =
    (from.time !== undefined && to.time !== undefined && from.time > to.time) ||
    (from.sequence !== undefined && to.sequence !== undefined && from.sequence > to.sequence);
  if (after)
    throw new HubError(
      'TH_ERR_BAD_REQUEST',
      `from: ${from.time !== undefined ? new Date(from.time).toISOString() : `seq:${from.sequence}`} is after to: ${
        to.time !== undefined ? new Date(to.time).toISOString() : `seq:${to.sequence}`
      }`,
    );
}

/** Where a consumer starts: a sequence (`from` position or the cursor) or a time. */
function startAt(start: Bound): Pick<ConsumerConfig, 'deliver_policy' | 'opt_start_seq' | 'opt_start_time'> {
  return start.sequence !== undefined
    ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: start.sequence }
    : { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(start.time!).toISOString() };
}

export function createJetStreamBackfillReader(
  spec: NatsSpec,
  // `trigger` gives backfilled events the live sensor's `source`; see the Backfill section of docs/nats.md.
  options: BackfillReaderOptions & { trigger?: TriggerRef },
): BackfillReader {
  if (!spec.jetstream)
    throw new HubError(
      'TH_ERR_BACKFILL_UNSUPPORTED',
      'spec.source.nats: core NATS subjects are not replayable (the server keeps no message for them); ' +
        'only a jetstream source can be backfilled',
    );
  const js: JetStreamSpec = spec.jetstream;
  const { signal, log } = options;
  const from = bound(options.from, 'from');
  const to = bound(options.to, 'to');
  checkOrder(from, to);
  const resumeAt =
    options.cursor?.sequence !== undefined
      ? parseSequencePosition(options.cursor.sequence, 'cursor.sequence')
      : undefined;
  const messageContext = {
    source: natsEventSource(options.trigger?.key ?? 'backfill'),
    eventType: spec.eventType,
  };
  let connection: Promise<NatsConnection> | undefined;
  /** Consumers this reader created and has not deleted yet (the read's, and the estimate's probes). */
  const consumers = new Set<string>();
  let lastSequence: number | undefined =
    options.cursor?.lastSequence !== undefined
      ? parseSequencePosition(options.cursor.lastSequence, 'cursor.lastSequence')
      : undefined;

  function nats(): Promise<NatsConnection> {
    connection ??= connect({
      ...connectionOptions(spec, `trigger-hub backfill ${options.trigger?.key ?? js.stream}`),
      // A backfill fails and is resumed by its runner rather than waiting here forever.
      maxReconnectAttempts: 10,
    });
    return connection;
  }

  /** The stream's last sequence when the backfill started (from the cursor on a resumed run). */
  async function streamEnd(jsm: JetStreamManager): Promise<number> {
    if (lastSequence !== undefined) return lastSequence;
    try {
      lastSequence = (await jsm.streams.info(js.stream)).state.last_seq;
    } catch (error) {
      if ((error as NatsError).api_error?.err_code === streamNotFound)
        throw new HubError(
          'TH_ERR_BAD_REQUEST',
          `spec.source.nats.jetstream.stream: no stream "${js.stream}" on the NATS server`,
          { cause: error },
        );
      throw error;
    }
    return lastSequence;
  }

  async function addConsumer(
    jsm: JetStreamManager,
    start: Bound,
  ): Promise<{ name: string; pending: number }> {
    const info = await jsm.consumers.add(js.stream, {
      ack_policy: AckPolicy.None,
      ...startAt(start),
      ...(js.filterSubject ? { filter_subject: js.filterSubject } : {}),
      inactive_threshold: inactiveThreshold,
      mem_storage: true,
      num_replicas: 1,
    });
    consumers.add(info.name);
    return { name: info.name, pending: info.num_pending };
  }

  async function deleteConsumer(jsm: JetStreamManager, name: string): Promise<void> {
    consumers.delete(name);
    await jsm.consumers.delete(js.stream, name).catch((error: unknown) => {
      log.warn(
        { err: error, consumer: name },
        'backfill consumer not deleted; the server drops it when idle',
      );
    });
  }

  /** Messages matching the filter from `start` to the end of the stream, now. */
  async function pendingFrom(jsm: JetStreamManager, start: Bound): Promise<number> {
    const probe = await addConsumer(jsm, start);
    await deleteConsumer(jsm, probe.name);
    return probe.pending;
  }

  function inWindow(message: JsMsg, end: number): boolean {
    const { streamSequence, timestampNanos } = message.info;
    if (streamSequence > end) return false;
    if (to.sequence !== undefined && streamSequence >= to.sequence) return false;
    return to.time === undefined || Math.floor(timestampNanos / 1e6) < to.time;
  }

  async function* read(): AsyncGenerator<BackfillBatch> {
    const nc = await nats();
    const jsm = await nc.jetstreamManager();
    const client: JetStreamClient = nc.jetstream();
    const end = await streamEnd(jsm);
    let next: Bound = resumeAt !== undefined ? { sequence: resumeAt } : from;
    const cursor = (sequence: number): BackfillCursor => ({
      sequence: String(sequence),
      lastSequence: String(end),
    });
    let consumer: string | undefined;
    // Acks are off, so a lost pull reply would skip messages silently: a consumer's delivery sequence must
    // count up by one; on a gap the consumer is re-created from the message after the last one seen.
    let delivered = 0;
    try {
      while (!signal.aborted) {
        if (
          next.sequence !== undefined &&
          (next.sequence > end || next.sequence >= (to.sequence ?? Infinity))
        )
          return;
        if (consumer === undefined) {
          const created = await addConsumer(jsm, next);
          consumer = created.name;
          delivered = 0;
          if (created.pending === 0) return; // nothing matches from here on: the window is empty
        }
        let gap = false;
        let done = false;
        const events: EventInput[] = [];
        try {
          const pulled: ConsumerMessages = await (await client.consumers.get(js.stream, consumer)).fetch({
            max_messages: js.batchSize,
            expires: fetchExpiresMs,
          });
          const stopPull = () => pulled.stop();
          signal.addEventListener('abort', stopPull, { once: true });
          try {
            for await (const message of pulled) {
              if (message.info.deliverySequence !== delivered + 1) {
                gap = true;
                break;
              }
              delivered++;
              if (!inWindow(message, end)) {
                done = true;
                break;
              }
              events.push(jetStreamMessageToEvent(message, messageContext));
              next = { sequence: message.info.streamSequence + 1 };
              // Nothing more matches now; what is published later lies past `end`.
              if (message.info.pending === 0) {
                done = true;
                break;
              }
            }
          } finally {
            signal.removeEventListener('abort', stopPull);
            pulled.stop();
          }
        } catch (error) {
          // The server dropped the consumer (idle past inactive_threshold while the runner held back, or
          // deleted by an operator): a new one continues from the message after the last one seen.
          if (!consumerGone(error)) throw error;
          gap = true;
        }
        if (events.length > 0) yield { events, cursor: cursor(next.sequence!) };
        if (done || signal.aborted) return;
        if (!gap && events.length === 0) {
          // An empty pull: the window is done if nothing is pending and nothing was skipped.
          const info = await jsm.consumers.info(js.stream, consumer).catch((error: unknown) => {
            if (consumerGone(error)) return undefined;
            throw error;
          });
          if (info === undefined || info.delivered.consumer_seq !== delivered) gap = true;
          else if (info.num_pending === 0) return;
        }
        if (gap) {
          log.info(
            { consumer, next: next.sequence },
            'backfill consumer lost or skipped messages; re-creating it',
          );
          await deleteConsumer(jsm, consumer);
          consumer = undefined;
        }
      }
    } finally {
      if (consumer !== undefined) await deleteConsumer(jsm, consumer);
    }
  }

  return {
    async estimate() {
      const nc = await nats();
      const jsm = await nc.jetstreamManager();
      const end = await streamEnd(jsm);
      if (from.sequence !== undefined && from.sequence > end) return 0;
      // Messages from `from` on, minus those from the first bound on (all counted now, on probe consumers).
      const ends: Bound[] = [{ sequence: end + 1 }];
      if (to.sequence !== undefined) ends.push({ sequence: to.sequence });
      if (to.time !== undefined) ends.push({ time: to.time });
      const afterWindow = Math.max(...(await Promise.all(ends.map((start) => pendingFrom(jsm, start)))));
      return Math.max(0, (await pendingFrom(jsm, from)) - afterWindow);
    },
    read,
    async close() {
      if (!connection) return;
      const nc = await connection.catch(() => undefined);
      if (!nc || nc.isClosed()) return;
      const jsm = await nc.jetstreamManager();
      await Promise.all([...consumers].map((name) => deleteConsumer(jsm, name)));
      await nc.drain().catch(() => nc.close());
    },
  };
}
