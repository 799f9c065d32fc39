// What every trigger-listing route (/api/triggers, the dashboard's) reads of one trigger: its listing fields
// and its queue counts, in one place so the two routes cannot drift apart.

import type { TriggerState } from '../engine/engine.ts';
import { safeUrl } from '../targets/http-client.ts';
import { sourceKindOf } from '../trigger/schema.ts';
import type { TriggerListing } from './trigger-listing.ts';

/** The target as listings show it: its origin only, never a path or query that may carry a token. */
function targetOf(state: TriggerState): string | undefined {
  const target = state.trigger?.spec.target;
  if (target?.http) return `http ${safeUrl(target.http.url)}`;
  if (target?.slack) return 'slack';
  return undefined;
}

export function listingOf(state: TriggerState): TriggerListing {
  const spec = state.trigger?.spec;
  const target = targetOf(state);
  return {
    key: state.key,
    origin: state.origin,
    state: state.state,
    ...(state.error ? { error: state.error } : {}),
    ...(spec ? { source: sourceKindOf(spec) } : {}),
    ...(target ? { target } : {}),
    ...(state.running ? { health: state.running.health() } : {}),
  };
}

/** The running trigger's job counts by state; undefined when it is not running or Redis does not answer. */
export async function queueCountsOf(state: TriggerState): Promise<Record<string, number> | undefined> {
  return state.running
    ? await state.running.queue.queue
        .getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed')
        .catch(() => undefined)
    : undefined;
}
