// The dead-letter queue of a trigger is BullMQ's failed set of its queue: a job lands there when its
// attempts run out or the target rejects it for good, with `lastAttempt` (status, response excerpt) in its
// data. Replaying moves it back to waiting with a fresh set of attempts.

import type { Job, Queue } from 'bullmq';
import { compileCel } from '../cel.ts';
import type { HubEvent } from '../envelope/event.ts';
import type { LastAttempt } from '../interfaces/delivery.ts';
import type { EventJobData } from './job.ts';
import { backfillQueueName, queueName } from './keys.ts';
import { openProducerQueue } from './producer-queue.ts';
import type { RedisClient } from './redis.ts';

export interface DeadLetterEntry {
  jobId: string;
  event: HubEvent;
  attempts: number;
  reason: string;
  lastAttempt?: LastAttempt;
  enqueuedAt: string;
  failedAt?: string;
}

export interface ReplayRequest {
  /** Job ids to replay; omitted = every entry (that matches `where`). */
  jobIds?: string[];
  /** CEL expression over `event` and `entry` (e.g. entry.lastAttempt.status == 503). */
  where?: string;
}

export function openQueue(triggerKey: string, connection: RedisClient): Queue<EventJobData> {
  return openProducerQueue<EventJobData>(queueName({ key: triggerKey }), connection);
}

/** The queue of a trigger's backfills: its failed set holds what they dead-lettered (docs/backfill.md). */
export function openBackfillQueue(triggerKey: string, connection: RedisClient): Queue<EventJobData> {
  return openProducerQueue<EventJobData>(backfillQueueName({ key: triggerKey }), connection);
}

function toEntry(job: Job<EventJobData>): DeadLetterEntry {
  return {
    jobId: job.id!,
    event: job.data.event,
    attempts: job.attemptsMade,
    reason: job.failedReason,
    ...(job.data.lastAttempt ? { lastAttempt: job.data.lastAttempt } : {}),
    enqueuedAt: new Date(job.timestamp).toISOString(),
    ...(job.finishedOn ? { failedAt: new Date(job.finishedOn).toISOString() } : {}),
  };
}

export async function countDeadLetters(queue: Queue<EventJobData>): Promise<number> {
  return queue.getFailedCount();
}

export async function listDeadLetters(
  queue: Queue<EventJobData>,
  range: { offset?: number; limit?: number } = {},
): Promise<DeadLetterEntry[]> {
  const offset = range.offset ?? 0;
  const jobs = await queue.getFailed(offset, offset + (range.limit ?? 100) - 1);
  return jobs.filter((job): job is Job<EventJobData> => Boolean(job)).map(toEntry);
}

export interface ReplayOptions {
  /** Called as entries go back to the queue; `total` is known for a replay of everything. */
  onProgress?: (replayed: number, total?: number) => void;
  /**
   * Move the entries into this queue instead of retrying them in place: a backfill's dead letters go to the
   * trigger's live queue, since the backfill's own worker is gone once the backfill ended. Their job ids are
   * unique to the backfill, so they never collide with a live event's; each keeps its job options.
   */
  into?: Queue<EventJobData>;
}

/**
 * A page of entries and the count of all. Counted first: an event dead-lettered between the two reads then
 * shows in the entries but not yet in the count, never the reverse (a count of 1 over an empty page, as CI
 * once saw).
 */
export async function deadLetterPage(
  queue: Queue<EventJobData>,
  range: { offset?: number; limit?: number } = {},
): Promise<{ count: number; entries: DeadLetterEntry[] }> {
  const count = await queue.getFailedCount();
  return { count, entries: await listDeadLetters(queue, range) };
}

/** Replays dead-lettered events; returns how many went back to a queue. */
export async function replayDeadLetters(
  queue: Queue<EventJobData>,
  request: ReplayRequest,
  { onProgress, into }: ReplayOptions = {},
): Promise<number> {
  if (!request.jobIds && !request.where && !into) {
    // One bulk move inside Redis; progress is read off the shrinking failed set meanwhile.
    const count = await queue.getFailedCount();
    const ticker = onProgress
      ? setInterval(() => {
          queue.getFailedCount().then(
            (left) => onProgress(Math.max(0, count - left), count),
            () => {},
          );
        }, 500)
      : undefined;
    try {
      await queue.retryJobs({ state: 'failed', count: 1000 });
    } finally {
      clearInterval(ticker);
    }
    onProgress?.(count, count);
    return count;
  }
  const matches = request.where ? compileCel(request.where) : undefined;
  // Read ids first: replayed jobs leave the failed set, so paging through it while replaying would skip some.
  const jobIds = request.jobIds ?? (await failedJobIds(queue));
  const total = request.jobIds || request.where ? undefined : jobIds.length;
  let replayed = 0;
  for (const jobId of jobIds) {
    const job = (await queue.getJob(jobId)) as Job<EventJobData> | undefined;
    if (!job || (await job.getState()) !== 'failed') continue;
    if (matches && matches({ event: job.data.event, entry: toEntry(job) }) !== true) continue;
    if (into) {
      // Added before it is removed: a crash in between leaves it in both (delivered at least once), never
      // in neither. An id the target queue already has adds nothing; that event is there already.
      await into.add(job.name, job.data, { ...job.opts, jobId });
      await job.remove();
    } else await job.retry('failed');
    replayed++;
    onProgress?.(replayed, total);
  }
  return replayed;
}

async function failedJobIds(queue: Queue<EventJobData>): Promise<string[]> {
  const ids: string[] = [];
  for (let offset = 0; ; offset += 1000) {
    const page = await queue.getFailed(offset, offset + 999);
    ids.push(...page.filter(Boolean).map((job) => job.id!));
    if (page.length < 1000) return ids;
  }
}
