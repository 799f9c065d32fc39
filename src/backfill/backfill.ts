// What a backfill is: the request a user makes (CLI, API), the record kept in Redis, and its progress.
// One concept per file: the Redis side is store.ts, the work is runner.ts, the scheduling is manager.ts.

import { randomBytes } from 'node:crypto';
import { HubError } from '../errors.ts';
import type { BackfillBound, BackfillCursor } from '../sensor/backfill-reader.ts';

export type BackfillStatus = 'running' | 'completed' | 'cancelled' | 'failed';

/** The extension attribute that marks a re-delivered event: `backfill: <backfill id>`. */
export const backfillExtension = 'backfill';

/** Events per second when the request names no rate: a fixed function is not flooded by its past. */
export const defaultBackfillRate = 100;
export const maxBackfillRate = 100_000;

export interface BackfillRequest {
  from: string;
  to?: string;
  rate?: number;
  dryRun?: boolean;
}

export interface BackfillRecord {
  id: string;
  trigger: string;
  from: BackfillBound;
  to: BackfillBound;
  /** Events per second delivered from the backfill queue. */
  rate: number;
  dryRun: boolean;
  status: BackfillStatus;
  /** Why it failed or was cancelled. */
  reason?: string;
  createdAt: string;
  finishedAt?: string;
  /** Records in the range as the source counted them up front, when it can. */
  estimate?: number;
  /** Records read from the source. */
  read: number;
  /** Records the trigger's filter dropped. */
  filtered: number;
  /** Events written to the backfill queue (for a dry run: the ones that would be). */
  enqueued: number;
  /** Events the target accepted (an in-flight one interrupted by a crash may be counted twice). */
  delivered: number;
  deadLettered: number;
  /** True once the source range is read to its end; what is left is delivery. */
  readDone: boolean;
  cursor?: BackfillCursor;
}

export interface BackfillProgress extends Omit<BackfillRecord, 'from' | 'to' | 'cursor'> {
  from: string;
  to: string;
  /** Seconds until done at the delivery rate seen so far; absent when it cannot be told yet. */
  etaSeconds?: number;
}

export function newBackfillId(): string {
  // Letters first: BullMQ and the extension-name rule (a–z0–9, ≤ 20) are both happy with it.
  return `bf${randomBytes(5).toString('hex')}`;
}

/**
 * A bound as a user writes it: an ISO 8601 time (`2026-11-24T09:00:00Z`, `2026-11-24`), or anything else as a
 * source position (`0:1200,1:980` for Kafka, a stream sequence, a Kinesis sequence number).
 */
export function parseBound(value: unknown, field: string): BackfillBound {
  if (typeof value !== 'string' || value.trim() === '')
    throw new HubError('TH_ERR_BAD_REQUEST', `${field}: give a time (ISO 8601) or a source position`);
  const text = value.trim();
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    const time = new Date(text);
    if (Number.isNaN(time.getTime()))
      throw new HubError('TH_ERR_BAD_REQUEST', `${field}: "${text}" is not a valid ISO 8601 time`);
    return { time };
  }
  return { position: text };
}

export function formatBound(bound: BackfillBound): string {
  return 'time' in bound ? bound.time.toISOString() : bound.position;
}

/** Checks a request body field by field; every error names its field. */
export function parseBackfillRequest(body: unknown): BackfillRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new HubError('TH_ERR_BAD_REQUEST', 'the body must be a JSON object {from, to?, rate?, dryRun?}');
  const { from, to, rate, dryRun, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0)
    throw new HubError('TH_ERR_BAD_REQUEST', `${unknown[0]}: unknown field (from, to, rate, dryRun)`);
  parseBound(from, 'from');
  if (to !== undefined) parseBound(to, 'to');
  if (
    rate !== undefined &&
    !(Number.isInteger(rate) && (rate as number) >= 1 && (rate as number) <= maxBackfillRate)
  )
    throw new HubError('TH_ERR_BAD_REQUEST', `rate: an integer from 1 to ${maxBackfillRate} (events/s)`);
  if (dryRun !== undefined && typeof dryRun !== 'boolean')
    throw new HubError('TH_ERR_BAD_REQUEST', 'dryRun: true or false');
  return {
    from: from as string,
    ...(to === undefined ? {} : { to: to as string }),
    ...(rate === undefined ? {} : { rate: rate as number }),
    ...(dryRun === undefined ? {} : { dryRun }),
  };
}

export function progressOf(record: BackfillRecord, now = Date.now()): BackfillProgress {
  const { from, to, cursor: _cursor, ...rest } = record;
  const progress: BackfillProgress = { ...rest, from: formatBound(from), to: formatBound(to) };
  if (record.status !== 'running' || record.dryRun) return progress;
  // What is left to deliver: the exact count once reading is done, the source's estimate before.
  const total = record.readDone
    ? record.enqueued
    : record.estimate === undefined
      ? undefined
      : Math.max(record.estimate - record.filtered, record.enqueued);
  const elapsed = (now - Date.parse(record.createdAt)) / 1000;
  const done = record.delivered + record.deadLettered;
  if (total === undefined || done === 0 || elapsed <= 0) return progress;
  const perSecond = Math.min(done / elapsed, record.rate);
  return { ...progress, etaSeconds: Math.max(0, Math.ceil((total - done) / perSecond)) };
}
