// Named instrumentation events, in the manner of kafkajs's `consumer.events`: the pipeline reports what
// happens here, and metrics (metrics.ts), logs and the dashboard subscribe instead of being sprinkled in.

import { EventEmitter } from 'node:events';

export interface InstrumentationEvents {
  'events.received': [trigger: string, count: number];
  'events.filtered': [trigger: string, count: number];
  'events.filter-error': [trigger: string, error: string];
  'events.enqueued': [trigger: string, count: number];
  'events.enqueue-failed': [trigger: string, count: number, error: unknown];
  'delivery.succeeded': [trigger: string, status: number, durationMs: number, ageMs: number];
  /** An attempt failed; `willRetry` is false when the event is being dead-lettered. */
  'delivery.failed': [trigger: string, status: number | undefined, durationMs: number, willRetry: boolean];
  'delivery.dead-lettered': [trigger: string, reason: string];
  'dlq.replayed': [trigger: string, count: number];
  /** A backfill's deliveries: kept apart from the live ones (their events are old on purpose). */
  'backfill.delivered': [trigger: string, durationMs: number];
  'backfill.dead-lettered': [trigger: string, reason: string];
}

export class Instrumentation extends EventEmitter<InstrumentationEvents> {}
