// Re-reads a range of a Kafka trigger's topics for a backfill (src/sensor/backfill-reader.ts):
//   - the range per partition is [start, end) in offsets: from a time (the broker's offsets for times:
//     the first record at or after it) or an explicit position `partition:offset,…` (`topic:partition:offset`
//     when the trigger reads several topics); messages whose timestamp lies outside a time window are skipped
//     too, so a window is exact even where producer timestamps are out of order;
//   - a throwaway consumer with a group id of its own, which never commits and whose group is deleted at
//     close: the live group's committed offsets are never touched;
//   - messages are mapped by the live sensor's own function, so every id is the one delivered the first time.

import { randomBytes } from 'node:crypto';
import { type Admin, type Consumer, type EachBatchPayload, Kafka } from 'kafkajs';
import type { EventInput } from '../../src/envelope/event.ts';
import { HubError } from '../../src/errors.ts';
import type {
  BackfillBatch,
  BackfillBound,
  BackfillCursor,
  BackfillReader,
  BackfillReaderOptions,
} from '../../src/sensor/backfill-reader.ts';
import { kafkaConfig } from './client.ts';
import { kafkaMessageToEvent } from './message.ts';
import type { KafkaSpec } from './spec.ts';

interface PartitionRange {
  topic: string;
  partition: number;
  /** First offset to read (the cursor's, after a resume). */
  start: bigint;
  /** Exclusive end. */
  end: bigint;
}

const partitionKey = (topic: string, partition: number) => `${topic}/${partition}`;

/** `0:1200,1:980` (one topic) or `orders:0:1200,…` → offsets by topic/partition; errors name the field. */
export function parsePositions(text: string, topics: string[], field: string): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const entry of text.split(',')) {
    const parts = entry.trim().split(':');
    const [topic, partition, offset] =
      parts.length === 2 && topics.length === 1 ? [topics[0]!, parts[0]!, parts[1]!] : parts;
    if (parts.length !== 2 && parts.length !== 3)
      throw new HubError(
        'TH_ERR_BAD_REQUEST',
        `${field}: "${entry}" is not partition:offset${topics.length === 1 ? '' : ' (topic:partition:offset: the trigger reads several topics)'}`,
      );
    if (parts.length === 2 && topics.length !== 1)
      throw new HubError(
        'TH_ERR_BAD_REQUEST',
        `${field}: "${entry}": name the topic (topic:partition:offset), the trigger reads several topics`,
      );
    if (!topics.includes(topic!))
      throw new HubError('TH_ERR_BAD_REQUEST', `${field}: topic "${topic}" is not read by this trigger`);
    if (!/^\d+$/.test(partition ?? '') || !/^\d+$/.test(offset ?? ''))
      throw new HubError(
        'TH_ERR_BAD_REQUEST',
        `${field}: "${entry}": partition and offset must be non-negative integers`,
      );
    out.set(partitionKey(topic!, Number(partition)), BigInt(offset!));
  }
  return out;
}

export function createKafkaBackfillReader(spec: KafkaSpec, options: BackfillReaderOptions): BackfillReader {
  const { trigger, signal, log } = options;
  const kafka = new Kafka(kafkaConfig(spec, log));
  const messageContext = { source: `/triggerhub/kafka/${trigger.key}`, eventType: spec.eventType };
  const fromTime = 'time' in options.from ? options.from.time.getTime() : undefined;
  const toTime = 'time' in options.to ? options.to.time.getTime() : undefined;
  let ranges: Promise<PartitionRange[]> | undefined;
  let consumer: Consumer | undefined;
  let groupId: string | undefined;
  let closed = false;
  const waiting: Array<() => void> = [];

  async function withAdmin<T>(work: (admin: Admin) => Promise<T>): Promise<T> {
    const admin = kafka.admin();
    await admin.connect();
    try {
      return await work(admin);
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }

  /** Offsets per partition of `topic` for a bound (undefined: the partition is not in a position bound). */
  async function offsetsAt(
    admin: Admin,
    topic: string,
    bound: BackfillBound,
    topics: string[],
    field: string,
  ): Promise<(partition: number) => bigint | undefined> {
    if ('time' in bound) {
      const offsets = await admin.fetchTopicOffsetsByTimestamp(topic, bound.time.getTime());
      const byPartition = new Map(offsets.map((item) => [item.partition, BigInt(item.offset)]));
      return (partition) => byPartition.get(partition);
    }
    const positions = parsePositions(bound.position, topics, field);
    return (partition) => positions.get(partitionKey(topic, partition));
  }

  function resolveRanges(): Promise<PartitionRange[]> {
    ranges ??= withAdmin(async (admin) => {
      const topics =
        spec.topics ??
        (await admin.listTopics()).filter((topic) => new RegExp(spec.topicPattern!).test(topic)).sort();
      const out: PartitionRange[] = [];
      for (const topic of topics) {
        const watermarks = await admin.fetchTopicOffsets(topic);
        const startOf = await offsetsAt(admin, topic, options.from, topics, 'from');
        const endOf = await offsetsAt(admin, topic, options.to, topics, 'to');
        for (const { partition, low, high } of watermarks) {
          // A `from` position names the partitions to re-read; a `to` position leaves the others open-ended.
          const start = startOf(partition);
          if (start === undefined) continue;
          const resumed = options.cursor?.[partitionKey(topic, partition)];
          const end = endOf(partition) ?? BigInt(high);
          out.push({
            topic,
            partition,
            start: [start, BigInt(low), resumed === undefined ? 0n : BigInt(resumed)].reduce(max),
            end: end < BigInt(high) ? end : BigInt(high),
          });
        }
      }
      return out;
    });
    return ranges;
  }

  async function* read(): AsyncGenerator<BackfillBatch> {
    const all = await resolveRanges();
    const todo = new Map(
      all
        .filter((range) => range.start < range.end)
        .map((range) => [partitionKey(range.topic, range.partition), range]),
    );
    if (todo.size === 0 || signal.aborted) return;
    const next: BackfillCursor = Object.fromEntries(
      all.map((range) => [partitionKey(range.topic, range.partition), range.start.toString()]),
    );
    const done = new Set<string>();
    const ready: Array<{ batch: BackfillBatch; taken: () => void }> = [];
    let failure: unknown;
    let wake: (() => void) | undefined;
    const notify = () => {
      wake?.();
      wake = undefined;
    };

    async function eachBatch(payload: EachBatchPayload): Promise<void> {
      const { batch, heartbeat, isRunning, isStale } = payload;
      const key = partitionKey(batch.topic, batch.partition);
      const range = todo.get(key);
      if (closed || !range || done.has(key) || !isRunning() || isStale()) return;
      const from = BigInt(next[key]!);
      const events: EventInput[] = [];
      for (const message of batch.messages) {
        const offset = BigInt(message.offset);
        // Before the seek took effect (the first fetch may start at the beginning) or past the end.
        if (offset < from || offset >= range.end) continue;
        const timestamp = Number(message.timestamp);
        if (fromTime !== undefined && timestamp < fromTime) continue;
        if (toTime !== undefined && timestamp >= toTime) continue;
        events.push(kafkaMessageToEvent(batch.topic, batch.partition, message, messageContext));
      }
      // lastOffset() also covers records kafkajs filtered (transaction markers, compacted gaps).
      const after = BigInt(batch.lastOffset()) + 1n;
      if (after > from) next[key] = (after < range.end ? after : range.end).toString();
      if (BigInt(next[key]!) >= range.end) {
        done.add(key);
        consumer?.pause([{ topic: batch.topic, partitions: [batch.partition] }]);
      }
      if (events.length === 0 && !done.has(key) && after <= from) return;
      // Handed over one at a time: the fetch waits (heartbeating) until the runner took the batch, so
      // reading never runs ahead of what the runner persisted by more than one batch.
      const keepAlive = setInterval(() => void heartbeat().catch(() => {}), spec.heartbeatIntervalMs);
      try {
        await new Promise<void>((resolve) => {
          ready.push({ batch: { events, cursor: { ...next } }, taken: resolve });
          waiting.push(resolve);
          notify();
        });
      } finally {
        clearInterval(keepAlive);
      }
    }

    groupId = `trigger-hub-backfill.${trigger.namespace}.${trigger.name}.${randomBytes(4).toString('hex')}`;
    const created = kafka.consumer({
      groupId,
      sessionTimeout: spec.sessionTimeoutMs,
      heartbeatInterval: spec.heartbeatIntervalMs,
      maxBytesPerPartition: spec.maxBytesPerPartition,
      allowAutoTopicCreation: false,
      retry: { retries: 8 },
    });
    consumer = created;
    created.on(created.events.CRASH, (event) => {
      if (event.payload.restart) return;
      failure = event.payload.error;
      notify();
    });
    await created.connect();
    const topics = [...new Set(all.map((range) => range.topic))];
    await created.subscribe({ topics, fromBeginning: true });
    // autoCommit off and no commit call anywhere: this group never stores an offset.
    await created.run({ autoCommit: false, partitionsConsumedConcurrently: 1, eachBatch });
    for (const range of todo.values())
      created.seek({ topic: range.topic, partition: range.partition, offset: range.start.toString() });
    const idle = all.filter((range) => !todo.has(partitionKey(range.topic, range.partition)));
    for (const range of idle) created.pause([{ topic: range.topic, partitions: [range.partition] }]);

    const onAbort = () => notify();
    signal.addEventListener('abort', onAbort);
    try {
      while (!signal.aborted) {
        const item = ready.shift();
        if (item) {
          yield item.batch;
          item.taken();
          continue;
        }
        if (failure !== undefined) throw failure;
        if (done.size === todo.size) return;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  return {
    async estimate() {
      return Number(
        (await resolveRanges()).reduce(
          (sum, range) => sum + (range.end > range.start ? range.end - range.start : 0n),
          0n,
        ),
      );
    },
    read,
    async close() {
      closed = true;
      // A fetch waiting for the runner is let go, so disconnect() (which waits for it) can finish.
      for (const release of waiting.splice(0)) release();
      await consumer
        ?.disconnect()
        .catch((error) => log.warn({ err: error }, 'backfill consumer disconnect failed'));
      if (groupId) {
        const id = groupId;
        await withAdmin((admin) => admin.deleteGroups([id])).catch((error) =>
          log.debug({ err: error, groupId: id }, 'backfill consumer group not deleted'),
        );
      }
    },
  };
}

function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
