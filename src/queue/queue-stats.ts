// What a trigger's queue holds right now, for /metrics, the API and the dashboard.

import type { Job, Queue } from 'bullmq';
import type { EventJobData } from './job.ts';

export interface QueueStats {
  counts: Record<'waiting' | 'delayed' | 'prioritized' | 'active' | 'failed', number>;
  /** Source time of the oldest event not yet delivered (waiting, retrying or in flight), if any. */
  oldestUndeliveredMs: number | undefined;
}

/** How many retrying and in-flight jobs are looked at for the oldest event: bounded work per scrape. */
const sampled = 50;

function eventTime(job: Job<EventJobData> | undefined): number | undefined {
  if (!job) return undefined;
  const time = job.data?.event?.time ? Date.parse(job.data.event.time) : Number.NaN;
  return Number.isFinite(time) ? time : job.timestamp;
}

export async function queueStats(queue: Queue<EventJobData>): Promise<QueueStats> {
  const [counts, oldest] = await Promise.all([
    queue.getJobCounts('waiting', 'delayed', 'prioritized', 'active', 'failed'),
    oldestUndeliveredMs(queue),
  ]);
  return { counts: counts as QueueStats['counts'], oldestUndeliveredMs: oldest };
}

/** Source time of the oldest event waiting, retrying or in flight; undefined when there is none. */
export async function oldestUndeliveredMs(queue: Queue<EventJobData>): Promise<number | undefined> {
  const [oldestWaiting, delayed, active] = await Promise.all([
    // The wait list is FIFO: its far end holds the oldest job.
    queue.getJobs(['wait', 'prioritized'], 0, 0, true),
    queue.getDelayed(0, sampled - 1),
    queue.getActive(0, sampled - 1),
  ]);
  const times = [...oldestWaiting, ...delayed, ...active]
    .map((job) => eventTime(job as Job<EventJobData>))
    .filter((time): time is number => time !== undefined);
  return times.length ? Math.min(...times) : undefined;
}
