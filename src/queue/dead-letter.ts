// The dead-letter queue of a trigger is BullMQ's failed set of its queue: a job lands there when its
// attempts run out or the target rejects it for good, with `lastAttempt` (status, response excerpt) in its
// data. Replaying moves it back to waiting with a fresh set of attempts.

import type { Job, Queue } from 'bullmq';
import type { HubEvent } from '../envelope/event.ts';
import { compileCel } from '../filter/cel.ts';
import type { EventJobData, LastAttempt } from './job.ts';
import { queueName } from './keys.ts';
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

/** Replays dead-lettered events; returns how many went back to the queue. */
export async function replayDeadLetters(
  queue: Queue<EventJobData>,
  request: ReplayRequest,
  /** Called as entries go back to the queue; `total` is known for a replay of everything. */
  onProgress?: (replayed: number, total?: number) => void,
): Promise<number> {
  if (!request.jobIds && !request.where) {
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
  let replayed = 0;
  const retry = async (job: Job<EventJobData> | undefined) => {
    if (!job || (await job.getState()) !== 'failed') return;
    if (matches && matches({ event: job.data.event, entry: toEntry(job) }) !== true) return;
    await job.retry('failed');
    replayed++;
    onProgress?.(replayed);
  };
  if (request.jobIds) {
    for (const jobId of request.jobIds)
      await retry((await queue.getJob(jobId)) as Job<EventJobData> | undefined);
    return replayed;
  }
  // Page through a snapshot of the failed set: replayed jobs leave it, so read ids first.
  const failedIds: string[] = [];
  for (let offset = 0; ; offset += 1000) {
    const page = await queue.getFailed(offset, offset + 999);
    failedIds.push(...page.filter(Boolean).map((job) => job.id!));
    if (page.length < 1000) break;
  }
  for (const jobId of failedIds) await retry((await queue.getJob(jobId)) as Job<EventJobData> | undefined);
  return replayed;
}
