// Kinesis: every hub process runs the same coordinator. It heartbeats into Redis, lists the shards, works
// out which are readable (parents finished) and how many it should hold (its fair share of the live
// workers), and takes or gives back shard leases to match. Each held shard has one reader:
//   GetRecords ──▶ emit (durable in Redis) ──▶ checkpoint (only while the lease is held) ──▶ next GetRecords
// A checkpoint never runs ahead of what is in the queue, so a SIGKILL at any point loses nothing; records
// re-read after a crash or a takeover have the same ids and enqueue nothing new.

import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import {
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  type GetShardIteratorCommandInput,
  type KinesisClient,
  type Shard,
} from '@aws-sdk/client-kinesis';
import { errorMessage } from '../../src/errors.ts';
import { backoffDelay, defaultBackoff, retry, sleep } from '../../src/retry/backoff.ts';
import type { Sensor, SensorContext, SensorHealth } from '../../src/sensor/sensor.ts';
import {
  busyPollMs,
  createKinesisClient,
  errorName,
  isThrottling,
  listShards as listAllShards,
  streamRef as streamRefOf,
  throttleBackoff,
} from './client.ts';
import { ShardLeases, shardEnd } from './leases.ts';
import { kinesisEventSource, recordToEvent } from './record.ts';
import { fairShare, forgottenShards, readableShards, type ShardInfo } from './shards.ts';
import { type KinesisSpec, parseStream } from './spec.ts';

interface Reader {
  abort: AbortController;
  done: Promise<void>;
}

export function createKinesisSensor(spec: KinesisSpec, context: SensorContext): Sensor {
  const { emitDurably, log, state } = context;
  // Stopped by the hub's signal or by stop() itself, whichever comes first.
  const stopping = new AbortController();
  const signal = stopping.signal;
  if (context.signal.aborted) stopping.abort();
  else context.signal.addEventListener('abort', () => stopping.abort(), { once: true });

  const stream = parseStream(spec.stream);
  const client: KinesisClient = createKinesisClient(spec);
  const streamRef = streamRefOf(spec);
  const workerId = `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
  const leases = new ShardLeases(state, stream.name, workerId, spec.leaseDurationMs);
  const source = kinesisEventSource(spec);
  const readers = new Map<string, Reader>();
  const renewEveryMs = Math.max(200, Math.floor(spec.leaseDurationMs / 3));
  let shards: Shard[] | undefined;
  let listedAt = 0;
  let relist = true;
  let startedAt = 0;
  let firstRun = false;
  let wake: (() => void) | undefined;
  let coordinator: Promise<void> | undefined;
  let renewer: Promise<void> | undefined;
  /** The live workers, from the last heartbeat (this one included). */
  let workers: string[] = [workerId];
  let health: SensorHealth = { connected: false, message: 'starting' };

  function setHealth(connected: boolean, message?: string): void {
    health = { ...health, connected, message };
  }

  /** Sleeps until the next coordinator round, or sooner when a shard ended (its children may start). */
  function nap(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        wake = undefined;
        resolve();
      }
      wake = done;
      if (signal.aborted) done();
      else signal.addEventListener('abort', done, { once: true });
    });
  }

  function listShards(): Promise<Shard[]> {
    return listAllShards(client, streamRef, signal);
  }

  function info(shard: Shard): ShardInfo {
    return {
      shardId: shard.ShardId!,
      parentShardId: shard.ParentShardId,
      adjacentParentShardId: shard.AdjacentParentShardId,
    };
  }

  /**
   * On the trigger's very first start with LATEST, shards already closed hold only old records: they are
   * marked finished (before the start is recorded, so a retry or a second replica starting at the same
   * time still does it), and their children start at LATEST-like positions rather than at their oldest record.
   */
  async function initialize(): Promise<void> {
    const recorded = await leases.started();
    if (recorded !== undefined) {
      startedAt = recorded;
      return;
    }
    if (spec.startingPosition === 'LATEST') {
      const listed = await listShards();
      const closed = listed.filter((shard) => shard.SequenceNumberRange?.EndingSequenceNumber !== undefined);
      await leases.markFinished(closed.map((shard) => shard.ShardId!));
    }
    const now = Date.now();
    startedAt = await leases.markStarted(now);
    firstRun = startedAt === now;
  }

  async function iteratorFor(
    shard: ShardInfo,
    after: string | undefined,
    stop: AbortSignal,
  ): Promise<string> {
    const input: GetShardIteratorCommandInput = {
      ...streamRef,
      ShardId: shard.shardId,
      ShardIteratorType: 'LATEST',
    };
    const listed = new Set(shards?.map((s) => s.ShardId));
    const isChild =
      (shard.parentShardId !== undefined && listed.has(shard.parentShardId)) ||
      (shard.adjacentParentShardId !== undefined && listed.has(shard.adjacentParentShardId));
    if (after !== undefined) {
      input.ShardIteratorType = 'AFTER_SEQUENCE_NUMBER';
      input.StartingSequenceNumber = after;
    } else if (isChild || spec.startingPosition === 'TRIM_HORIZON') {
      // A child of a reshard holds only records newer than its parents' last ones: read it all.
      input.ShardIteratorType = 'TRIM_HORIZON';
    } else if (spec.startingPosition === 'AT_TIMESTAMP') {
      input.ShardIteratorType = 'AT_TIMESTAMP';
      input.Timestamp = new Date(spec.startTimestamp!);
    } else if (!firstRun) {
      // LATEST on a restart: from the trigger's first start, so records put while it was down are read.
      input.ShardIteratorType = 'AT_TIMESTAMP';
      input.Timestamp = new Date(startedAt);
    }
    log.info(
      { shard: shard.shardId, iterator: input.ShardIteratorType, after, timestamp: input.Timestamp },
      'kinesis shard reader starting',
    );
    const output = await client.send(new GetShardIteratorCommand(input), { abortSignal: stop });
    if (!output.ShardIterator) throw new Error(`no shard iterator for ${shard.shardId}`);
    return output.ShardIterator;
  }

  /** Writes the checkpoint, retrying Redis errors; false when the lease is gone or the reader stopped. */
  async function checkpoint(shardId: string, sequence: string, stop: AbortSignal): Promise<boolean> {
    try {
      return await retry(() => leases.checkpoint(shardId, sequence), {
        signal: stop,
        onRetry: (error, attempt) =>
          log.warn({ err: error, attempt, shard: shardId }, 'kinesis checkpoint failed; retrying'),
      });
    } catch {
      return false;
    }
  }

  async function readShard(
    shard: ShardInfo,
    checkpointed: string | undefined,
    stop: AbortSignal,
  ): Promise<void> {
    const shardId = shard.shardId;
    let after = checkpointed;
    let iterator: string | undefined;
    let throttled = 0;
    let failures = 0;
    while (!stop.aborted) {
      let output: GetRecordsCommandOutput;
      const calledAt = Date.now();
      try {
        iterator ??= await iteratorFor(shard, after, stop);
        output = await client.send(
          new GetRecordsCommand({ ShardIterator: iterator, Limit: spec.maxRecordsPerRequest }),
          {
            abortSignal: stop,
          },
        );
        throttled = 0;
        failures = 0;
      } catch (error) {
        if (stop.aborted) return;
        if (isThrottling(error)) {
          throttled++;
          const delay = backoffDelay(throttleBackoff, throttled);
          log.info({ shard: shardId, delay, error: errorName(error) }, 'kinesis read throttled; backing off');
          await sleep(delay, stop);
          continue;
        }
        // Anything else (expired iterator, network, a shard that moved): a fresh iterator from the checkpoint.
        iterator = undefined;
        if (errorName(error) === 'ExpiredIteratorException') continue;
        failures++;
        setHealth(false, `${shardId}: ${errorName(error)}: ${errorMessage(error)}`);
        log.warn({ err: error, shard: shardId, attempt: failures }, 'kinesis read failed; retrying');
        await sleep(backoffDelay(defaultBackoff, failures), stop);
        continue;
      }
      setHealth(true);
      const records = output.Records ?? [];
      if (records.length > 0) {
        const events = records.map((record) =>
          recordToEvent(record, shardId, { source, type: spec.eventType }),
        );
        // Until it lands (Redis may be down for a while); undefined when the reader was stopped first.
        const stored = await emitDurably(events, {
          signal: stop,
          onRetry: (error) => setHealth(false, `records not yet enqueued: ${errorMessage(error)}`),
          logFields: { shard: shardId },
        });
        if (stored === undefined) return;
        health.lastEventAt = new Date().toISOString();
        const last = records.at(-1)!.SequenceNumber!;
        if (!(await checkpoint(shardId, last, stop))) {
          if (!stop.aborted)
            log.warn({ shard: shardId }, 'kinesis shard lease lost; another worker reads it now');
          return;
        }
        after = last;
      }
      iterator = output.NextShardIterator;
      if (iterator === undefined) {
        // The shard was closed by a reshard and every record of it is enqueued: retire it, wake up its children.
        if (await checkpoint(shardId, shardEnd, stop)) log.info({ shard: shardId }, 'kinesis shard finished');
        relist = true;
        wake?.();
        return;
      }
      // The per-shard limit counts calls: the wait runs from this call's start, not from the end of its emit.
      const interval = records.length > 0 ? busyPollMs : spec.pollIntervalMs;
      await sleep(Math.max(0, calledAt + interval - Date.now()), stop);
    }
  }

  function startReader(shard: ShardInfo, checkpointed: string | undefined): void {
    const abort = new AbortController();
    const onStop = () => abort.abort();
    signal.addEventListener('abort', onStop, { once: true });
    const done = readShard(shard, checkpointed, abort.signal)
      .catch((error: unknown) =>
        log.error({ err: error, shard: shard.shardId }, 'kinesis shard reader failed'),
      )
      .finally(async () => {
        signal.removeEventListener('abort', onStop);
        readers.delete(shard.shardId);
        // Give the shard back at once (a clean stop, a finished shard, a rebalance) rather than after expiry.
        await leases.release(shard.shardId).catch(() => {});
      });
    readers.set(shard.shardId, { abort, done });
  }

  async function stopReader(shardId: string): Promise<void> {
    const reader = readers.get(shardId);
    if (!reader) return;
    reader.abort.abort();
    await reader.done;
  }

  /**
   * Heartbeat and lease renewal, on their own timer: a balancing round that waits for a reader's in-flight
   * batch (or a slow ListShards) must not let this worker's leases lapse.
   */
  async function renewAll(): Promise<void> {
    workers = await leases.heartbeat();
    await Promise.all(
      [...readers.entries()].map(async ([shardId, reader]) => {
        if (!(await leases.renew(shardId))) {
          log.warn({ shard: shardId }, 'kinesis shard lease expired before renewal; stopping its reader');
          reader.abort.abort();
        }
      }),
    );
  }

  async function keepLeases(): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      try {
        await renewAll();
        failures = 0;
      } catch (error) {
        failures++;
        if (!signal.aborted)
          log.warn({ err: error, attempt: failures }, 'kinesis lease renewal failed; retrying');
      }
      await sleep(renewEveryMs, signal);
    }
  }

  /** One coordinator round: discover, then take or give back leases toward this worker's fair share. */
  async function balance(): Promise<void> {
    if (relist || shards === undefined || Date.now() - listedAt >= spec.shardDiscoveryIntervalMs) {
      relist = false;
      shards = await listShards();
      listedAt = Date.now();
    }
    const checkpoints = await leases.checkpoints();
    const all = shards.map(info);
    await leases.forget(forgottenShards(all, checkpoints));
    const readable = readableShards(all, checkpoints);
    const readableIds = new Set(readable.map((shard) => shard.shardId));
    for (const shardId of readers.keys()) if (!readableIds.has(shardId)) await stopReader(shardId);

    const share = fairShare(readable.length, workers, workerId);
    if (readers.size > share) {
      // A replica joined: give back the surplus (after its in-flight batch is checkpointed).
      const surplus = [...readers.keys()].sort().slice(share);
      log.info({ shards: surplus, share, workers: workers.length }, 'kinesis rebalancing: releasing shards');
      await Promise.all(surplus.map(stopReader));
    } else if (readers.size < share) {
      const candidates = readable.filter((shard) => !readers.has(shard.shardId));
      const owners = await leases.owners(candidates.map((shard) => shard.shardId));
      for (const shard of candidates) {
        if (readers.size >= share || signal.aborted) break;
        if (owners.get(shard.shardId) !== undefined) continue;
        if (!(await leases.acquire(shard.shardId))) continue;
        // Re-read after taking the lease: the previous holder may have checkpointed since the round began.
        const position = (await leases.checkpoints())[shard.shardId];
        if (position === shardEnd) {
          await leases.release(shard.shardId);
          continue;
        }
        startReader(shard, position);
      }
    }
    setHealth(true);
  }

  /** The hub's Redis connection may still be connecting when triggers start (and it queues nothing offline). */
  function redisReady(): Promise<void> {
    const redis = state.redis;
    if (redis.status === 'ready') return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, 10_000);
      function done() {
        clearTimeout(timer);
        redis.off('ready', done);
        signal.removeEventListener('abort', done);
        resolve();
      }
      redis.once('ready', done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  async function run(): Promise<void> {
    await redisReady();
    await retry(initialize, {
      signal,
      onRetry: (error, attempt) => {
        setHealth(false, `${errorName(error)}: ${errorMessage(error)}`);
        log.warn({ err: error, attempt }, 'kinesis sensor cannot start yet; retrying');
      },
    }).catch(() => {});
    await retry(renewAll, { signal }).catch(() => {});
    renewer = keepLeases();
    let failures = 0;
    while (!signal.aborted) {
      try {
        await balance();
        failures = 0;
        await nap(renewEveryMs);
      } catch (error) {
        if (signal.aborted) break;
        failures++;
        setHealth(false, `${errorName(error)}: ${errorMessage(error)}`);
        log.warn({ err: error, attempt: failures }, 'kinesis coordination failed; retrying');
        await nap(Math.min(renewEveryMs, backoffDelay(defaultBackoff, failures)));
      }
    }
  }

  return {
    async start() {
      coordinator = run();
    },
    async stop() {
      stopping.abort();
      wake?.();
      for (const reader of readers.values()) reader.abort.abort();
      await coordinator;
      await renewer;
      await Promise.allSettled([...readers.values()].map((reader) => reader.done));
      await leases.leave().catch(() => {});
      client.destroy();
    },
    health: () => health,
  };
}
