// What a source must offer to be backfilled: re-read a range of its past into events with the same
// deterministic ids the live sensor gives them. Kafka (offsets for times), JetStream (an ephemeral consumer
// from a start time or sequence) and Kinesis (AT_TIMESTAMP / AT_SEQUENCE_NUMBER iterators) implement it in
// sensors/<kind>/backfill.ts; the backfill runner (src/backfill/) owns queueing, progress, rate and resume.

import type { Logger } from 'pino';
import type { EventInput } from '../envelope/event.ts';
import type { TriggerRef } from '../interfaces/trigger-ref.ts';

/** One end of a backfill range: a time, or a source-specific position (e.g. `0:1200,1:980` for Kafka). */
export type BackfillBound = { time: Date } | { position: string };

/**
 * Where a reader stands, JSON-serializable and opaque to the runner (e.g. next offset per partition). The
 * runner persists the cursor of each batch only after the batch is durably enqueued, and hands the last one
 * back after a restart.
 */
export type BackfillCursor = Record<string, string>;

export interface BackfillBatch {
  /** Events mapped exactly as the live sensor maps them (same ids); the runner marks them as backfill. */
  events: EventInput[];
  /** Resume point after this batch. */
  cursor: BackfillCursor;
}

export interface BackfillReaderOptions {
  /** The trigger being backfilled (its key is part of some sources' CloudEvents `source`). */
  trigger: TriggerRef;
  from: BackfillBound;
  /** Exclusive end; the runner passes the time the backfill was created when the user gave none. */
  to: BackfillBound;
  /** Resume point of an earlier, interrupted run of the same backfill. */
  cursor?: BackfillCursor;
  signal: AbortSignal;
  log: Logger;
}

export interface BackfillReader {
  /** Records in the range when the source can tell up front (progress, ETA, dry run); else undefined. */
  estimate(): Promise<number | undefined>;
  /** Batches in source order (per partition/shard) until every partition/shard reached `to`. */
  read(): AsyncIterable<BackfillBatch>;
  /** Releases the throwaway consumer/iterators; never touches the live consumer's offsets or checkpoints. */
  close(): Promise<void>;
}

/** Built from the trigger's validated `spec.source.<kind>` (secrets already resolved, as for the sensor). */
export type BackfillReaderFactory<Spec = unknown> = (
  spec: Spec,
  options: BackfillReaderOptions,
) => BackfillReader;
