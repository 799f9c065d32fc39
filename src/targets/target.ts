import type { HubEvent } from '../envelope/event.ts';

/** What one delivery attempt saw. */
export interface DeliveryOutcome {
  ok: boolean;
  /** Worth another attempt (network error, timeout, 408, 429, 5xx). */
  retriable: boolean;
  status?: number;
  /** From a Retry-After answer. */
  retryAfterMs?: number;
  /** The first KiB of the response body (failures). */
  excerpt?: string;
  /** The response body up to 1 MiB, and its type (successes). */
  body?: Buffer;
  contentType?: string;
  /** Network error or status line, for logs and the dead-letter entry. */
  error?: string;
  durationMs: number;
}

export interface Target {
  deliver(event: HubEvent): Promise<DeliveryOutcome>;
  /** Many events in one request (CloudEvents batched mode); only targets that can take a batch have it. */
  deliverBatch?(events: HubEvent[]): Promise<DeliveryOutcome>;
  close(): Promise<void>;
}
