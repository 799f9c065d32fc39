import type { HubEvent } from '../envelope/event.ts';
import type { LastAttempt } from '../interfaces/delivery.ts';

/** What a job holds in Redis. */
export interface EventJobData {
  event: HubEvent;
  /** Set when the source message could not be parsed: the job is dead-lettered without a delivery. */
  poison?: string;
  /** Per-key ordered delivery: the ordering key whose FIFO this event heads (src/queue/ordered-queue.ts). */
  orderingKey?: string;
  /** Written when the job is dead-lettered: what the last attempt saw. */
  lastAttempt?: LastAttempt;
}

export interface DeliveredResult {
  status: number;
  durationMs: number;
}
