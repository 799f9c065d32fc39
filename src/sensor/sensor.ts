// The one interface every event source implements (sensors/<kind>/). A sensor sees the hub only through
// the SensorContext it is handed: `emit` (one attempt) and `emitDurably` (retried until stored) are the only
// ways an event leaves it.

import type { Logger } from 'pino';
import type { z } from 'zod';
import type { EventInput, HubEvent } from '../envelope/event.ts';
import type { DeliveryResponse, LastAttempt } from '../interfaces/delivery.ts';
import type { RedisClient } from '../interfaces/redis-client.ts';
import type { TriggerRef } from '../interfaces/trigger-ref.ts';
import type { BackfillReaderFactory } from './backfill-reader.ts';
import type { EmitDurably } from './emit-durably.ts';

// The shared contracts a sensor sees, handed on so that a source folder imports its kit from src/sensor/.
export type { DeliveryResponse, LastAttempt, RedisClient, TriggerRef };

export interface EmitResult {
  /** Events written to the queue (an id already there is a no-op: a replayed position adds nothing). */
  enqueued: number;
  /** Events the trigger's filter dropped. */
  filtered: number;
}

/**
 * Writes events durably into the trigger's queue, in one Redis round trip for the whole batch. Resolves only
 * once they are in Redis: acknowledge at the source after it resolves, never before. Rejects with a
 * retriable HubError (TH_ERR_QUEUE_UNAVAILABLE) when Redis cannot take them; then nothing may be acked.
 */
export type Emit = (events: EventInput[]) => Promise<EmitResult>;

export interface WebhookRequest {
  method: string;
  /** The path below the trigger's route, '' for the route itself. */
  subpath: string;
  headers: Record<string, string | string[] | undefined>;
  query: Record<string, string>;
  body: Buffer;
}

export interface WebhookResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type WebhookHandler = (request: WebhookRequest) => Promise<WebhookResponse>;

/** HTTP routes for push sources (webhook, MinIO): served under /webhooks/<path> by the hub's server. */
export interface WebhookRoutes {
  /** Registers `path` (e.g. `default/github`); returns the function that removes it. */
  register(path: string, handler: WebhookHandler, options: { bodyLimitBytes: number }): () => void;
}

/** Redis for a sensor's own state (checkpoints, leases): keys built by `key` share the trigger's hash tag. */
export interface SensorState {
  redis: RedisClient;
  /** `th:{namespace/name}:<parts…>` */
  key(...parts: string[]): string;
}

export interface SensorContext {
  trigger: TriggerRef;
  emit: Emit;
  /**
   * `emit` retried until the events are stored: the one store-then-acknowledge loop (src/sensor/emit-durably.ts).
   * Acknowledge at the source when it resolves with the EmitResult, never when it resolves `undefined` (the
   * signal aborted first). Retries what `isRetriable` says may pass (TH_ERR_QUEUE_UNAVAILABLE), rethrows the rest.
   */
  emitDurably: EmitDurably<EmitResult>;
  log: Logger;
  webhooks: WebhookRoutes;
  state: SensorState;
  /** Aborted when the sensor is being stopped. */
  signal: AbortSignal;
}

export interface SensorHealth {
  /** True while the sensor can read from its source. */
  connected: boolean;
  message?: string;
  lastEventAt?: string;
}

export interface Sensor {
  start(): Promise<void>;
  /** Stops reading and waits for in-flight emits to settle; nothing un-acked is acked after it resolves. */
  stop(): Promise<void>;
  health(): SensorHealth;
  /** Called by the dispatcher after the target accepted the event; an error here fails the attempt (retried). */
  onDelivered?(event: HubEvent, response: DeliveryResponse): Promise<void>;
  /** Called once when the event is dead-lettered (e.g. to publish it to an error topic). */
  onDeadLettered?(event: HubEvent, lastAttempt: LastAttempt): Promise<void>;
}

/** Builds a sensor from its validated spec. */
export type SensorFactory<Schema extends z.ZodType = z.ZodType> = (
  spec: z.output<Schema>,
  context: SensorContext,
) => Sensor;

/**
 * What a source can do, declared by its definition and read by the core (the Trigger schema, per-key ordering,
 * backfills), so that no file of src/ names a source's fields.
 */
export interface SensorCapabilities {
  /**
   * The field of `spec.source.<kind>` that, when set, publishes the target's answer to each event (Kafka's
   * `responseTopic`, NATS's `responseSubject`). A batch gets one answer for many events, so the Trigger schema
   * refuses `delivery.batch` with it.
   */
  repliesPerEvent?: { field: string };
  /**
   * Where the source itself keeps order (Kafka: the topic partition), or undefined: per-key delivery queues an
   * event without its own ordering key behind the others of the same place. The returned name must not change
   * between versions: it is part of the FIFO's Redis key.
   */
  sourceOrderOf?(event: Readonly<Record<string, unknown>>): string | undefined;
}

export interface SensorDefinition<Schema extends z.ZodType = z.ZodType> {
  /** The key under `spec.source` (e.g. `cron`). */
  kind: string;
  /** Schema of `spec.source.<kind>`; part of the Trigger schema and of the CRD. Keep its module light. */
  spec: Schema;
  /**
   * Loads the implementation on first use (`() => import('./sensor.ts')…`), so a hub pays for a source's
   * client library (the Kubernetes client alone is 80 MB) only when one of its triggers uses that source.
   */
  load(): Promise<SensorFactory<Schema>>;
  /**
   * Sources that can re-read their past (Kafka, JetStream, Kinesis; MinIO by listing its bucket) load a
   * backfill reader the same way; without it a backfill is refused (TH_ERR_BACKFILL_UNSUPPORTED).
   */
  backfill?(): Promise<BackfillReaderFactory<z.output<Schema>>>;
  capabilities?: SensorCapabilities;
}

/** Checks a sensor against the interface while keeping its spec type. */
export function defineSensor<Schema extends z.ZodType>(
  definition: SensorDefinition<Schema>,
): SensorDefinition<Schema> {
  return definition;
}
