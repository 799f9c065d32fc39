// Counts produced against delivered events by id, for the fault suite's table. Every load generator puts a
// unique `fid` in each event's data (the function receives it as the body, CloudEvents binary mode); the
// function endpoint is a test sink whose answers the scenario decides. An event counts as delivered when a 2xx
// was written back on a connection the hub still held (a delivery the hub gave up on is retried, not counted).

import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { decodeHeaderValue } from '../../../src/envelope/header-encoding.ts';
import { fromJobId } from '../../../src/envelope/ids.ts';
import { keyPrefix, queueName } from '../../../src/queue/keys.ts';
import { redisUrl } from '../../support/hub.ts';
import { type Received, type Reply, type Sink, startSink } from '../../support/sink.ts';
import type { ScenarioRow } from './report.ts';

export interface Ledger {
  sink: Sink;
  /** Keys of every event known to be produced (accepted by its source). */
  produced: Set<string>;
  /** 2xx deliveries per key. */
  deliveries(): Map<string, number>;
  missing(): string[];
  /** Polls until every produced event was delivered; resolves with when that was seen. */
  waitAllDelivered(timeoutMs: number, what: string): Promise<number>;
  row(scenario: string, recoverMs: number): ScenarioRow;
  /** Per source (the fid's prefix), when its last produced event was first delivered, in ms after `since`. */
  settledAfter(since: number): Record<string, number>;
  /** When the last of `keys` was first delivered, in ms after `since` (0 if all were before). */
  clearedAfter(keys: Iterable<string>, since: number): number;
  close(): Promise<void>;
}

/**
 * The event's key: the producer's `fid` in its data, the object key of a MinIO record (the fid it was put
 * under), else its CloudEvents id (cron ticks, Kubernetes watch events).
 */
export function keyOf(request: Received): string | undefined {
  try {
    const data = JSON.parse(request.body.toString('utf8')) as {
      fid?: unknown;
      s3?: { object?: { key?: unknown } };
    };
    if (typeof data.fid === 'string') return data.fid;
    const objectKey = data.s3?.object?.key;
    if (typeof objectKey === 'string') return decodeURIComponent(objectKey);
  } catch {
    // not JSON: keyed by ce-id
  }
  // ce-id arrives percent-encoded where it has `%` (CloudEvents HTTP binding): compare the decoded id.
  return request.id === undefined ? undefined : decodeHeaderValue(request.id);
}

export async function startLedger(
  respond: (request: Received) => Reply = () => ({ status: 200 }),
): Promise<Ledger> {
  const sink = await startSink({ respond });
  const produced = new Set<string>();
  const deliveries = () => {
    const counts = new Map<string, number>();
    for (const request of sink.received) {
      if (request.answered === undefined || request.answered < 200 || request.answered >= 300) continue;
      const key = keyOf(request);
      if (key !== undefined) counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    return counts;
  };
  const firstDeliveries = () => {
    const first = new Map<string, number>();
    for (const request of sink.received) {
      if (request.answered === undefined || request.answered < 200 || request.answered >= 300) continue;
      const key = keyOf(request);
      if (key !== undefined && !first.has(key)) first.set(key, request.at);
    }
    return first;
  };
  const missing = () => {
    const counts = deliveries();
    return [...produced].filter((key) => !counts.has(key));
  };
  return {
    sink,
    produced,
    deliveries,
    missing,
    async waitAllDelivered(timeoutMs, what) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const left = missing();
        if (left.length === 0) return Date.now();
        if (Date.now() > deadline)
          throw new Error(
            `${what}: ${left.length} of ${produced.size} events not delivered after ${timeoutMs} ms (e.g. ${left.slice(0, 5).join(', ')})`,
          );
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    },
    row(scenario, recoverMs) {
      const counts = deliveries();
      let delivered = 0;
      let duplicated = 0;
      for (const key of produced) {
        const n = counts.get(key) ?? 0;
        if (n > 0) delivered++;
        if (n > 1) duplicated++;
      }
      return {
        scenario,
        produced: produced.size,
        delivered,
        lost: produced.size - delivered,
        duplicated,
        recoverMs,
      };
    },
    clearedAfter(keys, since) {
      const first = firstDeliveries();
      let last = since;
      for (const key of keys) last = Math.max(last, first.get(key) ?? Number.POSITIVE_INFINITY);
      return last - since;
    },
    settledAfter(since) {
      const first = firstDeliveries();
      const out: Record<string, number> = {};
      for (const key of produced) {
        const source = key.split(/[-/]/)[0]!;
        const at = first.get(key);
        if (at !== undefined) out[source] = Math.max(out[source] ?? 0, at - since);
      }
      return out;
    },
    close: () => sink.close(),
  };
}

/** Event ids of every job a trigger's queue holds (cron ticks: what the hub wrote is what it must deliver). */
export async function queuedEventIds(triggerKey: string): Promise<string[]> {
  const connection = new Redis(redisUrl(), { maxRetriesPerRequest: 3 });
  const queue = new Queue(queueName({ key: triggerKey }), { connection, prefix: keyPrefix });
  try {
    const jobs = await queue.getJobs(['completed', 'failed', 'wait', 'active', 'delayed', 'prioritized']);
    return jobs.map((job) => fromJobId(job.id!));
  } finally {
    await queue.close();
    connection.disconnect();
  }
}

/** Jobs of a trigger's queue that are not completed (failed = dead-lettered, or still waiting/active/delayed). */
export async function unfinishedJobs(triggerKey: string): Promise<Record<string, number>> {
  const connection = new Redis(redisUrl(), { maxRetriesPerRequest: 3 });
  const queue = new Queue(queueName({ key: triggerKey }), { connection, prefix: keyPrefix });
  try {
    const counts = await queue.getJobCounts('failed', 'wait', 'active', 'delayed', 'prioritized');
    return Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 0));
  } finally {
    await queue.close();
    connection.disconnect();
  }
}
