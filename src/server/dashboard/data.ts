// What the dashboard shows, read from the same places as the HTTP API: the engine's list of triggers,
// each running trigger's BullMQ queue, src/queue/dead-letter.ts for the dead-letter queue, and the backfill
// manager for what backfills dead-lettered.

import type { Job } from 'bullmq';
import type { BackfillManager } from '../../backfill/manager.ts';
import type { Engine, TriggerState } from '../../engine/engine.ts';
import { HubError } from '../../errors.ts';
import type { Instrumentation } from '../../instrumentation.ts';
import { deadLetterPage, replayDeadLetters } from '../../queue/dead-letter.ts';
import type { EventJobData } from '../../queue/job.ts';
import { oldestUndeliveredMs } from '../../queue/queue-stats.ts';
import type { TriggerListing } from '../trigger-listing.ts';
import { listingOf, queueCountsOf } from '../trigger-state.ts';
import type { LiveStats, TriggerStats } from './live-stats.ts';

export interface TriggerSummary extends TriggerListing {
  queue?: Record<string, number>;
  /** waiting + active + delayed + prioritized */
  depth?: number;
  /** Age (from its source time) of the oldest event not yet delivered; 0 when the queue is drained. */
  oldestEventAgeSeconds?: number;
  deadLetters?: number;
  stats: TriggerStats;
}

export interface RecentEvent {
  id: string;
  type: string;
  subject?: string;
  time?: string;
  deliveredAt?: string;
}

export async function summarize(state: TriggerState, stats: LiveStats): Promise<TriggerSummary> {
  const counts = await queueCountsOf(state);
  const depth = counts
    ? (counts.waiting ?? 0) + (counts.active ?? 0) + (counts.delayed ?? 0) + (counts.prioritized ?? 0)
    : undefined;
  // Looked up only when something waits: a page of a thousand drained triggers costs no more reads.
  const oldest =
    state.running && depth
      ? await oldestUndeliveredMs(state.running.queue.queue).catch(() => undefined)
      : undefined;
  return {
    ...listingOf(state),
    ...(counts
      ? {
          queue: counts,
          depth,
          oldestEventAgeSeconds: oldest === undefined ? 0 : Math.max(0, (Date.now() - oldest) / 1000),
          deadLetters: counts.failed ?? 0,
        }
      : {}),
    stats: stats.of(state.key),
  };
}

export async function listTriggers(engine: Engine, stats: LiveStats): Promise<TriggerSummary[]> {
  return Promise.all(engine.list().map((state) => summarize(state, stats)));
}

export function runningQueue(engine: Engine, key: string) {
  const state = engine.get(key);
  if (!state?.running) throw new HubError('TH_ERR_UNKNOWN_TRIGGER', `trigger ${key} is not running here`);
  return { state, queue: state.running.queue.queue };
}

function recentEvent(job: Job<EventJobData>): RecentEvent {
  const event = job.data.event;
  return {
    id: event.id,
    type: event.type,
    ...(event.subject ? { subject: event.subject } : {}),
    ...(event.time ? { time: event.time } : {}),
    ...(job.finishedOn ? { deliveredAt: new Date(job.finishedOn).toISOString() } : {}),
  };
}

/**
 * One trigger with its last delivered events, a page of its dead-letter queue, and the first page of what its
 * backfills dead-lettered (kept apart; a replay moves them into the live queue).
 */
export async function triggerDetails(
  engine: Engine,
  stats: LiveStats,
  backfills: BackfillManager,
  key: string,
  page: { offset: number; limit: number },
) {
  const { state, queue } = runningQueue(engine, key);
  const [summary, completed, deadLetters, backfill] = await Promise.all([
    summarize(state, stats),
    queue.getCompleted(0, 9),
    deadLetterPage(queue, page),
    backfills.deadLetters(key, { limit: page.limit }),
  ]);
  return {
    ...summary,
    recentEvents: completed.filter(Boolean).map(recentEvent),
    deadLetterCount: deadLetters.count,
    deadLetterEntries: deadLetters.entries,
    backfillDeadLetterCount: backfill.count,
    backfillDeadLetterEntries: backfill.entries,
  };
}

/**
 * Replays some (jobIds) or all dead letters of a trigger (with `backfills`: what its backfills dead-lettered,
 * into the live queue), and reports it like the API does.
 */
export async function replay(
  engine: Engine,
  instrumentation: Instrumentation,
  key: string,
  jobIds: string[] | undefined,
  backfills?: BackfillManager,
): Promise<number> {
  const { state, queue } = runningQueue(engine, key);
  const request = jobIds ? { jobIds } : {};
  const replayed = backfills
    ? await backfills.replayDeadLetters(key, request)
    : await replayDeadLetters(queue, request);
  instrumentation.emit('dlq.replayed', state.key, replayed);
  return replayed;
}
