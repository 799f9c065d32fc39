// Kafka: a consumer group whose every fetched batch (one partition's messages) becomes one emit, i.e. one
// addBulk into Redis (a big fetch: one per 1,000 messages), and whose offsets are resolved and committed
// only after that emit resolved.
//   - Redis down: the emit rejects, nothing is resolved or committed; the batch is retried with backoff
//     while heartbeating (the group keeps the partition), and re-fetched if the partition moved meanwhile.
//   - Rebalance or crash: uncommitted messages are read again by whoever owns the partition next; their
//     ids are their positions, so the ones already in Redis are no-ops. Only what was in flight is re-read.

import { type Consumer, type EachBatchPayload, Kafka, type Producer } from 'kafkajs';
import type { EventInput } from '../../src/envelope/event.ts';
import { errorRecord, type OutgoingRecord, responseRecord } from '../../src/envelope/reply-records.ts';
import { errorMessage } from '../../src/errors.ts';
import { retry, sleep } from '../../src/retry/backoff.ts';
import type { Sensor, SensorContext, SensorHealth } from '../../src/sensor/sensor.ts';
import { kafkaConfig } from './client.ts';
import { kafkaMessageToEvent } from './message.ts';
import type { KafkaSpec } from './spec.ts';

/** Events per emit: the queue's addBulk size. */
const maxEventsPerEmit = 1000;

export function defaultGroupId(namespace: string, name: string): string {
  return `trigger-hub.${namespace}.${name}`;
}

export function createKafkaSensor(spec: KafkaSpec, context: SensorContext): Sensor {
  const { trigger, emitDurably, log, signal } = context;
  const kafka = new Kafka(kafkaConfig(spec, log));
  const groupId = spec.groupId ?? defaultGroupId(trigger.namespace, trigger.name);
  const messageContext = { source: `/triggerhub/kafka/${trigger.key}`, eventType: spec.eventType };
  let consumer: Consumer | undefined;
  let running: Promise<void> | undefined;
  let health: SensorHealth = { connected: false, message: 'connecting' };
  let lastEventAt: string | undefined;
  // Partitions are fetched in parallel, but at most two of their writes are in flight at once: Redis runs
  // each addBulk as one block, so more in parallel only queue up behind each other until they hit the
  // queue's write timeout and are retried whole. A waiting partition is still heartbeated by the others.
  const writeSlots = limiter(2);

  function setHealth(connected: boolean, message?: string): void {
    health = {
      connected,
      ...(message ? { message } : {}),
      ...(lastEventAt ? { lastEventAt } : {}),
    };
  }

  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, commitOffsetsIfNecessary } = payload;
    if (batch.messages.length === 0) return;
    let resolved: string | undefined;
    // A fetch can hold ~10,000 small messages (1 MiB per partition): it is written in slices of at most
    // `maxEventsPerEmit`, one emit (one addBulk) each, so no single Redis write grows past what it can take
    // within the queue's write timeout (a timed-out giant write retried whole would never get through).
    for (let start = 0; start < batch.messages.length; start += maxEventsPerEmit) {
      const messages = batch.messages.slice(start, start + maxEventsPerEmit);
      const events = messages.map((message) =>
        kafkaMessageToEvent(batch.topic, batch.partition, message, messageContext),
      );
      if (!(await emitUntilDurable(events, payload, messages[0]!.offset))) break;
      resolved = messages[messages.length - 1]!.offset;
      resolveOffset(resolved);
      await heartbeat();
    }
    if (resolved === undefined) return;
    lastEventAt = new Date().toISOString();
    setHealth(true);
    // A commit that fails (rebalance in progress, coordinator moved) is not lost work: the next commit of
    // this partition covers it, or its next owner re-reads the batch and the re-emit adds nothing.
    await commitOffsetsIfNecessary({
      topics: [
        { topic: batch.topic, partitions: [{ partition: batch.partition, offset: nextOffset(resolved) }] },
      ],
    });
  }

  /**
   * Emits until the events are durable (true), or gives up when the consumer stops or the partition was
   * revoked/seeked (false): the messages are then left unresolved and read again by the partition's owner.
   */
  async function emitUntilDurable(
    events: EventInput[],
    { batch, heartbeat, isRunning, isStale }: EachBatchPayload,
    offset: string,
  ): Promise<boolean> {
    const stored = await emitDurably(events, {
      stillWanted: () => isRunning() && !isStale() && !signal.aborted,
      // kafkajs heartbeats only when asked to: keep the membership alive while this partition waits for a
      // write slot and while its write is in flight (a slow Redis must not cost the group its partitions).
      // A failed heartbeat (rebalance) is ignored here: it surfaces at the heartbeat after the write.
      around: async (write) => {
        const keepAlive = setInterval(() => void heartbeat().catch(() => {}), spec.heartbeatIntervalMs);
        let release: (() => void) | undefined;
        try {
          release = await writeSlots.acquire();
          return await write();
        } finally {
          clearInterval(keepAlive);
          release?.();
        }
      },
      wait: (ms) => waitHeartbeating(ms, heartbeat),
      onRetry: (error) => setHealth(false, `events not yet durable, retrying: ${errorMessage(error)}`),
      logFields: { topic: batch.topic, partition: batch.partition, offset },
    });
    return stored !== undefined;
  }

  /** Sleeps `ms` while keeping the group membership alive (a long Redis outage must not cost the partition). */
  async function waitHeartbeating(ms: number, heartbeat: () => Promise<void>): Promise<void> {
    const until = Date.now() + ms;
    while (!signal.aborted && Date.now() < until) {
      await sleep(Math.min(spec.heartbeatIntervalMs, until - Date.now()), signal);
      await heartbeat();
    }
  }

  async function connectAndRun(): Promise<void> {
    await retry(
      async () => {
        if (signal.aborted) return;
        const created = kafka.consumer({
          groupId,
          sessionTimeout: spec.sessionTimeoutMs,
          heartbeatInterval: spec.heartbeatIntervalMs,
          maxBytesPerPartition: spec.maxBytesPerPartition,
          maxBytes: Math.max(spec.maxBytesPerPartition * spec.partitionsConsumedConcurrently, 10_485_760),
          retry: { retries: 8 },
          // A mistyped topic must not create one on the broker: it is reported (health) and retried.
          allowAutoTopicCreation: false,
        });
        consumer = created;
        created.on(created.events.GROUP_JOIN, (event) => {
          setHealth(true);
          log.info(
            { groupId, assignment: event.payload.memberAssignment },
            'kafka consumer joined its group',
          );
        });
        created.on(created.events.CRASH, (event) => {
          setHealth(false, `consumer crashed: ${event.payload.error.message}`);
          log.warn(
            { err: event.payload.error, restart: event.payload.restart },
            'kafka consumer crashed; kafkajs restarts it',
          );
        });
        created.on(created.events.DISCONNECT, () => setHealth(false, 'disconnected'));
        try {
          await created.connect();
          await created.subscribe({
            topics: spec.topics ?? [new RegExp(spec.topicPattern!)],
            fromBeginning: spec.startFrom === 'earliest',
          });
          await created.run({
            autoCommit: false,
            eachBatchAutoResolve: false,
            partitionsConsumedConcurrently: spec.partitionsConsumedConcurrently,
            eachBatch,
          });
        } catch (error) {
          await created.disconnect().catch(() => {});
          throw error;
        }
      },
      {
        signal,
        onRetry: (error, attempt, delayMs) => {
          setHealth(false, `cannot connect: ${(error as Error).message}`);
          log.warn({ err: error, attempt, delayMs }, 'kafka consumer could not start; retrying');
        },
      },
    );
  }

  let producer: Promise<Producer> | undefined;

  /** One producer for the response and error topics, connected on first use (and again after a failure). */
  function getProducer(): Promise<Producer> {
    producer ??= (async () => {
      const created = kafka.producer({ allowAutoTopicCreation: false });
      await created.connect();
      return created;
    })().catch((error) => {
      producer = undefined;
      throw error;
    });
    return producer;
  }

  /** Resolves once the broker has the record (acks from all in-sync replicas). */
  async function publish(topic: string, record: OutgoingRecord): Promise<void> {
    await (await getProducer()).send({
      topic,
      acks: -1,
      messages: [{ key: record.key ?? null, value: record.value, headers: record.headers }],
    });
  }

  return {
    // A failed publish fails the delivery attempt: it is retried (the target sees the event again), so the
    // response topic is at-least-once too.
    ...(spec.responseTopic
      ? {
          onDelivered: (event, response) =>
            publish(spec.responseTopic!, responseRecord(event, response, trigger.key)),
        }
      : {}),
    ...(spec.errorTopic
      ? {
          onDeadLettered: (event, lastAttempt) =>
            publish(spec.errorTopic!, errorRecord(event, lastAttempt, trigger.key)),
        }
      : {}),
    async start() {
      running = connectAndRun().catch((error) => {
        if (!signal.aborted) log.error({ err: error }, 'kafka consumer gave up');
      });
    },
    async stop() {
      // A start still connecting (broker down) is not waited for long: the consumer is disconnected anyway.
      await Promise.race([running, sleep(5000)]);
      // disconnect() waits for the batches in progress: their emits settle before the consumer leaves.
      await consumer?.disconnect().catch((error) => log.warn({ err: error }, 'kafka disconnect failed'));
      const created = await producer?.catch(() => undefined);
      await created?.disconnect().catch(() => {});
    },
    health: () => health,
  };
}

/** A counting semaphore; `release` may be called more than once. */
function limiter(slots: number): { acquire(): Promise<() => void> } {
  let free = slots;
  const waiting: Array<() => void> = [];
  return {
    async acquire() {
      if (free > 0) free--;
      else await new Promise<void>((resolve) => waiting.push(resolve));
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const next = waiting.shift();
        if (next) next();
        else free++;
      };
    },
  };
}

function nextOffset(offset: string): string {
  return (BigInt(offset) + 1n).toString();
}
