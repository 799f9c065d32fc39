// Re-reads a range of a Kinesis stream for a backfill, with its own iterators: it never reads or writes the
// live sensor's leases and checkpoints (it has no Redis at all). Every shard the stream still lists, closed
// parents of a reshard included, is read in the live sensor's order: a child only after its parents are
// done (shards.ts readableShards), so per-partition-key order holds across the reshard. Shards are polled
// in turn, at most 5 GetRecords a second each, one batch per call.
//
// Bounds. A time compares the record's ApproximateArrivalTimestamp: `from` inclusive (AT_TIMESTAMP), `to`
// exclusive. Positions `shardId:sequenceNumber,…`: `from` starts the named shards AT_SEQUENCE_NUMBER and
// their descendants at their oldest record, and leaves other shards out; `to` stops the named shards before
// that record and leaves their descendants out. Whatever the bounds, a shard also stops at its end or when
// caught up (an empty GetRecords at the tip), and at records that arrived after the backfill started: those
// belong to the live sensor.

import {
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  type GetShardIteratorCommandInput,
  type Shard,
} from '@aws-sdk/client-kinesis';
import type { EventInput } from '../../src/envelope/event.ts';
import { errorMessage, HubError } from '../../src/errors.ts';
import { backoffDelay, defaultBackoff, sleep } from '../../src/retry/backoff.ts';
import type {
  BackfillBatch,
  BackfillBound,
  BackfillCursor,
  BackfillReader,
  BackfillReaderOptions,
} from '../../src/sensor/backfill-reader.ts';
import {
  busyPollMs,
  createKinesisClient,
  errorName,
  isThrottling,
  listShards,
  streamRef,
  throttleBackoff,
} from './client.ts';
import { shardEnd } from './leases.ts';
import { type KinesisRecord, kinesisEventSource, recordToEvent } from './record.ts';
import { readableShards, type ShardInfo } from './shards.ts';
import { type KinesisSpec, parseStream } from './spec.ts';

/**
 * kinesalite never answers an AT_TIMESTAMP GetShardIterator while the shard holds no record at or after the
 * timestamp. Past this wait the shard is read from TRIM_HORIZON instead, dropping records older than `from`:
 * the same records either way, so it is right on real Kinesis too (which answers in milliseconds).
 */
const atTimestampWaitMs = 5000;
/** Failures (other than throttling and expired iterators) in a row before the backfill fails. */
const maxFailures = 5;
/** Cursor key of the time the backfill first started (the "caught up" bound, kept across resumes). */
const startedKey = '@started';

type Positions = Map<string, string>;

/** `shardId:sequenceNumber,…` → shard → sequence number. */
export function parseShardPositions(position: string, field: string): Positions {
  const positions: Positions = new Map();
  for (const part of position.split(',')) {
    const match = /^\s*([A-Za-z0-9_.-]{1,128}):(\d{1,128})\s*$/.exec(part);
    if (!match || positions.has(match[1]!))
      throw new HubError(
        'TH_ERR_BAD_REQUEST',
        `${field}: "${position}" is not a Kinesis position; expected shardId:sequenceNumber, comma-separated, one per shard`,
      );
    positions.set(match[1]!, match[2]!);
  }
  return positions;
}

interface Bound {
  time?: number;
  positions?: Positions;
}

function bound(value: BackfillBound, field: string): Bound {
  if ('position' in value) return { positions: parseShardPositions(value.position, field) };
  const time = value.time.getTime();
  if (Number.isNaN(time)) throw new HubError('TH_ERR_BAD_REQUEST', `${field}: not a valid time`);
  return { time };
}

function checkOrder(from: Bound, to: Bound): void {
  if (from.time !== undefined && to.time !== undefined && from.time > to.time)
    throw new HubError(
      'TH_ERR_BAD_REQUEST',
      `from: ${new Date(from.time).toISOString()} is after to: ${new Date(to.time).toISOString()}`,
    );
  for (const [shardId, start] of from.positions ?? []) {
    const end = to.positions?.get(shardId);
    if (end !== undefined && BigInt(start) > BigInt(end))
      throw new HubError('TH_ERR_BAD_REQUEST', `from: ${shardId}:${start} is after to: ${shardId}:${end}`);
  }
}

/** Shards whose parent or adjacent parent (transitively, within the listing) is one of `roots`. */
function descendantsOf(shards: ShardInfo[], roots: Set<string>): Set<string> {
  const byId = new Map(shards.map((shard) => [shard.shardId, shard]));
  const found = new Set<string>();
  const descends = (shard: ShardInfo, seen: Set<string>): boolean =>
    [shard.parentShardId, shard.adjacentParentShardId].some((parent) => {
      if (parent === undefined || seen.has(parent)) return false;
      seen.add(parent);
      if (roots.has(parent)) return true;
      const next = byId.get(parent);
      return next !== undefined && descends(next, seen);
    });
  for (const shard of shards) if (descends(shard, new Set())) found.add(shard.shardId);
  return found;
}

interface ShardState {
  info: ShardInfo;
  /** Closed by a reshard when listed: read to its end (an empty page there does not mean caught up). */
  closed: boolean;
  /** The last sequence number read (delivered in a batch); resume point. */
  after?: string;
  done: boolean;
  iterator?: string;
  /** When its last GetRecords started (the per-shard rate limit). */
  calledAt: number;
}

export function createKinesisBackfillReader(
  spec: KinesisSpec,
  options: BackfillReaderOptions,
): BackfillReader {
  const from = bound(options.from, 'from');
  const to = bound(options.to, 'to');
  checkOrder(from, to);
  const { log } = options;
  const stream = parseStream(spec.stream);
  const ref = streamRef(spec);
  const source = kinesisEventSource(spec);
  // Stopped by the runner's signal or by close(), whichever comes first.
  const stopping = new AbortController();
  const signal = stopping.signal;
  const stop = () => stopping.abort();
  if (options.signal.aborted) stop();
  else options.signal.addEventListener('abort', stop, { once: true });
  const client = createKinesisClient(spec);
  const cursorIn = options.cursor ?? {};
  const startedAt = cursorIn[startedKey] !== undefined ? Date.parse(cursorIn[startedKey]) : Date.now();
  if (Number.isNaN(startedAt)) throw new HubError('TH_ERR_BAD_REQUEST', `cursor.${startedKey}: not a time`);
  /** Records that arrived at or after this are out of the window. */
  const endTime = Math.min(to.time ?? Infinity, startedAt);

  async function shardsInWindow(): Promise<ShardState[]> {
    let listed: Shard[];
    try {
      listed = await listShards(client, ref, signal);
    } catch (error) {
      if (errorName(error) === 'ResourceNotFoundException')
        throw new HubError(
          'TH_ERR_BAD_REQUEST',
          `spec.source.kinesis.stream: no stream "${stream.name}": ${errorMessage(error)}`,
          { cause: error },
        );
      throw error;
    }
    const all: ShardInfo[] = listed.map((shard) => ({
      shardId: shard.ShardId!,
      parentShardId: shard.ParentShardId,
      adjacentParentShardId: shard.AdjacentParentShardId,
    }));
    const closed = new Set(
      listed
        .filter((shard) => shard.SequenceNumberRange?.EndingSequenceNumber !== undefined)
        .map((shard) => shard.ShardId!),
    );
    const ids = new Set(all.map((shard) => shard.shardId));
    for (const [field, positions] of [
      ['from', from.positions],
      ['to', to.positions],
    ] as const)
      for (const shardId of positions?.keys() ?? [])
        if (!ids.has(shardId))
          throw new HubError(
            'TH_ERR_BAD_REQUEST',
            `${field}: ${shardId} is not a shard of stream "${stream.name}" (or was trimmed)`,
          );
    let scope = all;
    if (from.positions) {
      const named = new Set(from.positions.keys());
      const after = descendantsOf(all, named);
      scope = scope.filter((shard) => named.has(shard.shardId) || after.has(shard.shardId));
    }
    if (to.positions) {
      const beyond = descendantsOf(all, new Set(to.positions.keys()));
      scope = scope.filter((shard) => !beyond.has(shard.shardId) || to.positions!.has(shard.shardId));
    }
    return scope.map((info) => {
      const resume = cursorIn[info.shardId];
      return {
        info,
        closed: closed.has(info.shardId),
        done: resume === shardEnd,
        ...(resume !== undefined && resume !== shardEnd ? { after: resume } : {}),
        calledAt: 0,
      };
    });
  }

  function cursor(shards: ShardState[]): BackfillCursor {
    const out: BackfillCursor = { [startedKey]: new Date(startedAt).toISOString() };
    for (const shard of shards) {
      if (shard.done) out[shard.info.shardId] = shardEnd;
      else if (shard.after !== undefined) out[shard.info.shardId] = shard.after;
    }
    return out;
  }

  async function getIterator(input: GetShardIteratorCommandInput, wait?: AbortSignal): Promise<string> {
    const output = await client.send(new GetShardIteratorCommand(input), {
      abortSignal: wait ? AbortSignal.any([signal, wait]) : signal,
    });
    if (!output.ShardIterator) throw new Error(`no shard iterator for ${input.ShardId}`);
    return output.ShardIterator;
  }

  async function iteratorFor(shard: ShardState): Promise<string> {
    const base = { ...ref, ShardId: shard.info.shardId };
    const start = from.positions?.get(shard.info.shardId);
    if (shard.after !== undefined)
      return getIterator({
        ...base,
        ShardIteratorType: 'AFTER_SEQUENCE_NUMBER',
        StartingSequenceNumber: shard.after,
      });
    if (start !== undefined)
      return getIterator({ ...base, ShardIteratorType: 'AT_SEQUENCE_NUMBER', StartingSequenceNumber: start });
    if (from.time === undefined) return getIterator({ ...base, ShardIteratorType: 'TRIM_HORIZON' });
    const wait = AbortSignal.timeout(atTimestampWaitMs);
    try {
      return await getIterator(
        { ...base, ShardIteratorType: 'AT_TIMESTAMP', Timestamp: new Date(from.time) },
        wait,
      );
    } catch (error) {
      if (signal.aborted || !wait.aborted) throw error;
      log.info(
        { shard: shard.info.shardId, waitedMs: atTimestampWaitMs },
        'kinesis AT_TIMESTAMP iterator did not come (kinesalite, no record since then?): reading from TRIM_HORIZON',
      );
      return getIterator({ ...base, ShardIteratorType: 'TRIM_HORIZON' });
    }
  }

  /** One GetRecords on the shard, retried through throttling and expired iterators; undefined when stopped. */
  async function getRecords(shard: ShardState): Promise<GetRecordsCommandOutput | undefined> {
    let throttled = 0;
    let failures = 0;
    while (!signal.aborted) {
      await sleep(Math.max(0, shard.calledAt + busyPollMs - Date.now()), signal);
      shard.calledAt = Date.now();
      try {
        shard.iterator ??= await iteratorFor(shard);
        return await client.send(
          new GetRecordsCommand({ ShardIterator: shard.iterator, Limit: spec.maxRecordsPerRequest }),
          { abortSignal: signal },
        );
      } catch (error) {
        if (signal.aborted) return undefined;
        if (isThrottling(error)) {
          const delay = backoffDelay(throttleBackoff, ++throttled);
          log.info({ shard: shard.info.shardId, delay }, 'kinesis backfill read throttled; backing off');
          await sleep(delay, signal);
          continue;
        }
        shard.iterator = undefined; // a fresh one from the last record read
        if (errorName(error) === 'ExpiredIteratorException') continue;
        if (++failures >= maxFailures || errorName(error) === 'ResourceNotFoundException') throw error;
        log.warn(
          { err: error, shard: shard.info.shardId, attempt: failures },
          'kinesis backfill read failed; retrying',
        );
        await sleep(backoffDelay(defaultBackoff, failures), signal);
      }
    }
    return undefined;
  }

  /** Whether the record lies before the end of the window on this shard: the first one that does not ends it. */
  function beforeEnd(record: KinesisRecord, shardId: string): boolean {
    const arrival = record.ApproximateArrivalTimestamp?.getTime();
    if (arrival !== undefined && arrival >= endTime) return false;
    const end = to.positions?.get(shardId);
    return end === undefined || BigInt(record.SequenceNumber!) < BigInt(end);
  }

  /** After a TRIM_HORIZON fallback a shard starts before `from`: those records are skipped, not delivered. */
  function afterStart(record: KinesisRecord): boolean {
    const arrival = record.ApproximateArrivalTimestamp?.getTime();
    return from.time === undefined || arrival === undefined || arrival >= from.time;
  }

  async function* read(): AsyncGenerator<BackfillBatch> {
    if (from.time !== undefined && from.time >= endTime) return; // nothing arrived in the window yet
    const shards = await shardsInWindow();
    const byId = new Map(shards.map((shard) => [shard.info.shardId, shard]));
    const type = spec.eventType;
    while (!signal.aborted) {
      // Shards out of the window count as finished: a child waits only for parents that are read.
      const progress = Object.fromEntries(
        shards.map((shard) => [shard.info.shardId, shard.done ? shardEnd : '']),
      );
      const readable = readableShards(
        shards.map((shard) => shard.info),
        progress,
      );
      if (readable.length === 0) return;
      for (const { shardId } of readable) {
        const shard = byId.get(shardId)!;
        const output = await getRecords(shard);
        if (output === undefined) return;
        const records = output.Records ?? [];
        const cut = records.findIndex((record) => !beforeEnd(record, shardId));
        const inWindow = cut < 0 ? records : records.slice(0, cut);
        const events: EventInput[] = inWindow
          .filter(afterStart)
          .map((record) => recordToEvent(record, shardId, { source, type }));
        if (inWindow.length > 0) shard.after = inWindow.at(-1)!.SequenceNumber!;
        shard.iterator = output.NextShardIterator;
        shard.done =
          inWindow.length < records.length || // reached `to` or the backfill's start
          output.NextShardIterator === undefined || // a closed shard, read to its end
          (!shard.closed && records.length === 0 && output.MillisBehindLatest === 0); // caught up with the tip
        if (shard.done) log.debug({ shard: shardId, after: shard.after }, 'kinesis backfill shard done');
        if (events.length > 0) yield { events, cursor: cursor(shards) };
      }
    }
  }

  return {
    // Kinesis cannot count the records of a time or sequence range without reading them.
    estimate: async () => undefined,
    read,
    async close() {
      options.signal.removeEventListener('abort', stop);
      stopping.abort();
      client.destroy();
    },
  };
}
