// Named instrumentation events, in the manner of kafkajs's `consumer.events`: the pipeline reports what
// happens here, and metrics (metrics.ts), logs and the dashboard subscribe instead of being sprinkled in.

import { EventEmitter } from 'node:events';

export interface InstrumentationEvents {
  'events.received': [trigger: string, count: number];
  'events.filtered': [trigger: string, count: number];
  'events.filter-error': [trigger: string, error: string];
  'events.enqueued': [trigger: string, count: number];
  'events.enqueue-failed': [trigger: string, count: number, error: unknown];
  /** A sensor's emit failed and is retried (src/sensor/emit-durably.ts): nothing acknowledged at the source. */
  'source.retrying': [trigger: string, attempt: number, delayMs: number, error: unknown];
  /** A request to the target begins; `delivery.settled` follows it whatever happens (in-flight gauge). */
  'delivery.started': [trigger: string];
  'delivery.settled': [trigger: string];
  'delivery.succeeded': [trigger: string, status: number, durationMs: number, ageMs: number];
  /** An attempt failed; `willRetry` is false when the event is being dead-lettered. */
  'delivery.failed': [trigger: string, status: number | undefined, durationMs: number, willRetry: boolean];
  'delivery.dead-lettered': [trigger: string, reason: string];
  /** One batched request was sent with `size` events (split halves count as requests of their own). */
  'delivery.batch': [trigger: string, size: number];
  'dlq.replayed': [trigger: string, count: number];
  /** A delivery Worker started (+1) or closed (-1); lazy dispatch closes idle ones. */
  'dispatch.workers': [trigger: string, delta: 1 | -1];
  /** A backfill's deliveries: kept apart from the live ones (their events are old on purpose). */
  'backfill.delivered': [trigger: string, durationMs: number];
  'backfill.dead-lettered': [trigger: string, reason: string];
}

export class Instrumentation extends EventEmitter<InstrumentationEvents> {}
