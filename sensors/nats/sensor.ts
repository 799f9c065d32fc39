// NATS, two ways:
//   - JetStream (at-least-once): a durable pull consumer. Messages pulled meanwhile are taken as one batch,
//     written with ONE emit, and each is acked only after that emit resolved. Redis down: nothing is acked,
//     the batch is retried with backoff while `working()` keeps the server from redelivering it; a hub that
//     dies leaves its batch un-acked and the server redelivers it after ackWait, to any replica; the ids are
//     stream positions, so what was already written is not enqueued twice.
//   - Core subjects with a queue group (at-most-once): NATS itself does not keep a message for a subscriber
//     that is gone, so a message received by a hub that dies before its emit resolved is lost. Documented.

import {
  AckPolicy,
  type ConnectionOptions,
  type ConsumerMessages,
  connect,
  credsAuthenticator,
  DeliverPolicy,
  type JetStreamManager,
  type JsMsg,
  type Msg,
  type NatsConnection,
  type NatsError,
  nanos,
  headers as natsHeaders,
  type Subscription,
} from 'nats';
import type { EventInput } from '../../src/envelope/event.ts';
import { errorRecord, type OutgoingRecord, responseRecord } from '../../src/envelope/reply-records.ts';
import { errorMessage } from '../../src/errors.ts';
import { retry } from '../../src/retry/backoff.ts';
import type { EmitResult, Sensor, SensorContext, SensorHealth } from '../../src/sensor/sensor.ts';
import { resolveSecret } from '../../src/trigger/secret-ref.ts';
import { coreMessageToEvent, jetStreamMessageToEvent, natsEventSource } from './message.ts';
import type { JetStreamSpec, NatsSpec } from './spec.ts';

const consumerNotFound = 10014;
const deliverPolicies = {
  all: DeliverPolicy.All,
  last: DeliverPolicy.Last,
  new: DeliverPolicy.New,
  last_per_subject: DeliverPolicy.LastPerSubject,
} as const;
/** Core messages written per emit. */
const coreBatch = 1000;

export function defaultDurable(namespace: string, name: string): string {
  return `trigger-hub_${namespace}_${name.replaceAll('.', '-')}`;
}

export function defaultQueueGroup(namespace: string, name: string): string {
  return `trigger-hub.${namespace}.${name}`;
}

/** Connection settings; secrets resolved once, at start (a missing one is a Trigger error). */
export function connectionOptions(spec: NatsSpec, name: string): ConnectionOptions {
  const options: ConnectionOptions = {
    servers: spec.servers,
    name,
    // Reconnect forever: the client buffers nothing of ours (acks are re-sent as redeliveries).
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1000,
  };
  const { auth, tls } = spec;
  if (auth?.token) options.token = resolveSecret(auth.token);
  if (auth?.user && auth.password) {
    options.user = auth.user;
    options.pass = resolveSecret(auth.password);
  }
  if (auth?.credentials) {
    const creds = new TextEncoder().encode(resolveSecret(auth.credentials));
    options.authenticator = credsAuthenticator(creds);
  }
  if (tls) {
    options.tls = {
      ...(tls.ca ? { ca: resolveSecret(tls.ca) } : {}),
      ...(tls.cert ? { cert: resolveSecret(tls.cert) } : {}),
      ...(tls.key ? { key: resolveSecret(tls.key) } : {}),
    };
  }
  return options;
}

export function createNatsSensor(spec: NatsSpec, context: SensorContext): Sensor {
  const { trigger, emitDurably, log, signal } = context;
  const options = connectionOptions(spec, `trigger-hub ${trigger.key}`);
  const messageContext = { source: natsEventSource(trigger.key), eventType: spec.eventType };
  let connection: NatsConnection | undefined;
  let running: Promise<void> | undefined;
  let subscription: Subscription | undefined;
  let consumed: ConsumerMessages | undefined;
  let flushing: Promise<void> | undefined;
  let health: SensorHealth = { connected: false, message: 'connecting' };
  let lastEventAt: string | undefined;
  const coreBuffer: EventInput[] = [];
  const jsBuffer: JsMsg[] = [];

  function setHealth(connected: boolean, message?: string): void {
    health = { connected, ...(message ? { message } : {}), ...(lastEventAt ? { lastEventAt } : {}) };
  }

  /**
   * Emits until the events are durable. Gives up when the sensor is stopping, or on an error retrying cannot
   * help (returns false: nothing is acked); the first attempt is always made, so a graceful stop still
   * writes what was received.
   */
  async function emitUntilDurable(events: EventInput[], whileWaiting?: () => void): Promise<boolean> {
    let stored: EmitResult | undefined;
    try {
      stored = await emitDurably(events, {
        onRetry: (error) => {
          setHealth(false, `events not yet durable, retrying: ${errorMessage(error)}`);
          whileWaiting?.();
        },
      });
    } catch (error) {
      setHealth(false, `events not enqueued: ${errorMessage(error)}`);
      log.error({ err: error, events: events.length }, 'nats batch not enqueued (not retriable); not acked');
      return false;
    }
    if (stored === undefined) return false;
    lastEventAt = new Date().toISOString();
    if (!health.connected || health.message) setHealth(true);
    return true;
  }

  function kick(drain: () => Promise<void>): void {
    if (flushing) return;
    flushing = drain().finally(() => {
      flushing = undefined;
    });
  }

  async function drainCore(): Promise<void> {
    while (coreBuffer.length > 0) {
      const batch = coreBuffer.splice(0, coreBatch);
      if (!(await emitUntilDurable(batch))) {
        log.warn(
          { lost: batch.length + coreBuffer.length },
          'core NATS messages dropped at stop (at-most-once)',
        );
        coreBuffer.length = 0;
      }
    }
  }

  function drainJetStream(js: JetStreamSpec): () => Promise<void> {
    return async () => {
      while (jsBuffer.length > 0) {
        // Redeliveries of a message already in the batch (ack wait ran out meanwhile) are written once.
        const batch = new Map<number, JsMsg>();
        for (const message of jsBuffer.splice(0, js.batchSize))
          batch.set(message.info.streamSequence, message);
        const messages = [...batch.values()];
        const events = messages.map((message) => jetStreamMessageToEvent(message, messageContext));
        // While Redis is down, tell the server the batch is still being worked on: no redelivery storm.
        const durable = await emitUntilDurable(events, () => {
          for (const message of messages) message.working();
        });
        for (const message of messages) {
          if (durable) message.ack();
          else message.nak(); // stopping before the batch was durable: redeliver it elsewhere now
        }
      }
    };
  }

  async function ensureConsumer(jsm: JetStreamManager, js: JetStreamSpec, durable: string): Promise<void> {
    const settings = {
      ack_wait: nanos(js.ackWaitMs),
      max_ack_pending: js.maxAckPending,
      ...(js.filterSubject ? { filter_subject: js.filterSubject } : {}),
    };
    try {
      const info = await jsm.consumers.info(js.stream, durable);
      const { config } = info;
      if (
        config.ack_wait !== settings.ack_wait ||
        config.max_ack_pending !== settings.max_ack_pending ||
        (config.filter_subject ?? undefined) !== settings.filter_subject
      )
        await jsm.consumers.update(js.stream, durable, settings);
    } catch (error) {
      if ((error as NatsError).api_error?.err_code !== consumerNotFound) throw error;
      await jsm.consumers.add(js.stream, {
        durable_name: durable,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: deliverPolicies[js.deliverPolicy],
        ...settings,
      });
      log.info({ stream: js.stream, durable }, 'created the JetStream durable consumer');
    }
  }

  async function watchStatus(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') setHealth(false, 'disconnected; reconnecting');
      else if (status.type === 'reconnect') setHealth(true);
      else if (status.type === 'error') log.warn({ data: status.data }, 'nats connection error');
    }
  }

  async function run(): Promise<void> {
    await retry(
      async () => {
        if (signal.aborted) return;
        const nc = await connect(options);
        try {
          void watchStatus(nc);
          if (spec.jetstream) {
            const js = spec.jetstream;
            const durable = js.durable ?? defaultDurable(trigger.namespace, trigger.name);
            await ensureConsumer(await nc.jetstreamManager(), js, durable);
            const consumer = await nc.jetstream().consumers.get(js.stream, durable);
            const drain = drainJetStream(js);
            consumed = await consumer.consume({
              max_messages: Math.min(js.maxAckPending, js.batchSize * 2),
              callback: (message) => {
                jsBuffer.push(message);
                kick(drain);
              },
            });
          } else {
            subscription = nc.subscribe(spec.subject!, {
              queue: spec.queueGroup ?? defaultQueueGroup(trigger.namespace, trigger.name),
              callback: (error, message: Msg) => {
                if (error) return log.warn({ err: error }, 'nats subscription error');
                coreBuffer.push(coreMessageToEvent(message, messageContext));
                kick(drainCore);
              },
            });
            // Healthy only once the server has the subscription: what is published after that is received.
            await nc.flush();
          }
        } catch (error) {
          await nc.close().catch(() => {});
          throw error;
        }
        connection = nc;
        setHealth(true);
      },
      {
        signal,
        onRetry: (error, attempt, delayMs) => {
          setHealth(false, `cannot start: ${(error as Error).message}`);
          log.warn({ err: error, attempt, delayMs }, 'nats source could not start; retrying');
        },
      },
    );
  }

  /**
   * Publishes a reply or a dead letter. A subject captured by a JetStream stream gets a stream ack (durable);
   * any other subject is published on core NATS and flushed (best effort: NATS keeps nothing for it).
   */
  async function publish(subject: string, record: OutgoingRecord): Promise<void> {
    const nc = connection;
    if (!nc || nc.isClosed()) throw new Error('not connected to NATS yet');
    const headers = natsHeaders();
    for (const [name, value] of Object.entries(record.headers)) headers.set(name, value);
    try {
      await nc.jetstream().publish(subject, record.value, { headers });
    } catch (error) {
      if ((error as NatsError).code !== '503') throw error; // 503: no stream captures the subject
      nc.publish(subject, record.value, { headers });
      await nc.flush();
    }
  }

  return {
    // A failed publish fails the delivery attempt, which is retried: the response subject is at-least-once.
    ...(spec.responseSubject
      ? {
          onDelivered: (event, response) =>
            publish(spec.responseSubject!, responseRecord(event, response, trigger.key)),
        }
      : {}),
    ...(spec.errorSubject
      ? {
          onDeadLettered: (event, lastAttempt) =>
            publish(spec.errorSubject!, errorRecord(event, lastAttempt, trigger.key)),
        }
      : {}),
    async start() {
      running = run().catch((error) => {
        if (!signal.aborted) log.error({ err: error }, 'nats source gave up');
      });
    },
    async stop() {
      await running;
      // Stop receiving first, then let the batch in progress settle (acked if durable, nak'ed otherwise).
      subscription?.unsubscribe();
      await consumed?.close().catch(() => {});
      await flushing;
      for (const message of jsBuffer.splice(0)) message.nak();
      if (coreBuffer.length > 0) {
        await emitUntilDurable(coreBuffer.splice(0)).catch(() => false);
      }
      await connection?.drain().catch(() => connection?.close());
    },
    health: () => health,
  };
}
