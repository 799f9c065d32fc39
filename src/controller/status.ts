// A Trigger's `status`, computed from what the engine knows about it (running, failed, invalid), its sensor's
// health and the shared counters. Conditions follow the Kubernetes conventions: a condition's
// lastTransitionTime only moves when its status does.

import type { TriggerState } from '../engine/engine.ts';
import { sourceKindOf, type TriggerStatus } from '../trigger/schema.ts';

type Condition = NonNullable<TriggerStatus['conditions']>[number];

export interface TriggerCounters {
  received?: number;
  enqueued?: number;
  delivered?: number;
  deadLettered?: number;
}

export interface StatusInput {
  /** The engine's view of the Trigger; undefined when it has not been applied yet. */
  state: TriggerState | undefined;
  /** metadata.generation of the object the status is written to. */
  generation: number | undefined;
  /** A reason the controller itself refused the Trigger (e.g. a Secret it references is missing). */
  refused?: { reason: string; message: string };
  /** The outcome of its spec.scaling autoscaler (scaling.ts), when it has one. */
  scaling?: { ok: boolean; reason: string; message: string };
  counters?: TriggerCounters;
  lastEventTime?: string;
  previous?: TriggerStatus;
  now?: Date;
}

function condition(
  type: string,
  status: Condition['status'],
  reason: string,
  message: string,
  generation: number | undefined,
): Condition {
  return {
    type,
    status,
    reason,
    message,
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
  };
}

export function buildStatus(input: StatusInput): TriggerStatus {
  const { state, generation, refused } = input;
  const conditions: Condition[] = [];
  const health = state?.running?.health();
  if (refused && !state?.running) {
    conditions.push(condition('Ready', 'False', refused.reason, refused.message, generation));
    conditions.push(condition('SourceConnected', 'Unknown', refused.reason, 'not started', generation));
    conditions.push(condition('Degraded', 'True', refused.reason, refused.message, generation));
  } else if (!state) {
    conditions.push(condition('Ready', 'Unknown', 'Pending', 'not applied yet', generation));
  } else if (state.state === 'invalid') {
    const message = state.error ?? 'invalid';
    conditions.push(condition('Ready', 'False', 'InvalidSpec', message, generation));
    conditions.push(condition('SourceConnected', 'Unknown', 'InvalidSpec', 'not started', generation));
    conditions.push(condition('Degraded', 'True', 'InvalidSpec', message, generation));
  } else if (state.state === 'failed') {
    const message = state.error ?? 'failed to start';
    conditions.push(condition('Ready', 'False', 'StartFailed', message, generation));
    conditions.push(condition('SourceConnected', 'False', 'StartFailed', message, generation));
    conditions.push(condition('Degraded', 'True', 'StartFailed', message, generation));
  } else {
    const connected = health?.connected ?? false;
    const sourceMessage = health?.message ?? (connected ? 'reading from the source' : 'not connected');
    conditions.push(
      connected
        ? condition('Ready', 'True', 'Running', 'the sensor is running', generation)
        : condition('Ready', 'False', 'SourceNotConnected', sourceMessage, generation),
    );
    conditions.push(
      condition(
        'SourceConnected',
        connected ? 'True' : 'False',
        connected ? 'Connected' : 'Disconnected',
        sourceMessage,
        generation,
      ),
    );
    if (state.error)
      conditions.push(condition('Degraded', 'True', 'NewerVersionInvalid', state.error, generation));
    else if (!connected)
      conditions.push(condition('Degraded', 'True', 'Disconnected', sourceMessage, generation));
    else conditions.push(condition('Degraded', 'False', 'AsExpected', 'no problem found', generation));
  }
  if (input.scaling) {
    const { ok, reason, message } = input.scaling;
    conditions.push(condition('AutoscalerReady', ok ? 'True' : 'False', reason, message, generation));
  }
  const now = (input.now ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const previous = new Map((input.previous?.conditions ?? []).map((c) => [c.type, c]));
  for (const c of conditions) {
    const before = previous.get(c.type);
    c.lastTransitionTime =
      before && before.status === c.status && before.lastTransitionTime ? before.lastTransitionTime : now;
  }
  const status: TriggerStatus = { conditions };
  if (generation !== undefined) status.observedGeneration = generation;
  if (state?.trigger) status.sourceKind = sourceKindOf(state.trigger.spec);
  const lastEventTime = latest(input.lastEventTime, health?.lastEventAt);
  if (lastEventTime) status.lastEventTime = lastEventTime;
  if (input.counters) status.counters = input.counters;
  return status;
}

function latest(a: string | undefined, b: string | undefined): string | undefined {
  if (!a) return b;
  if (!b) return a;
  return a > b ? a : b;
}

/** True when writing `next` would change what the object shows. */
export function statusChanged(previous: TriggerStatus | undefined, next: TriggerStatus): boolean {
  return canonical(previous ?? {}) !== canonical(next);
}

/** JSON with sorted keys: the API server does not keep the order the hub wrote. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
      .map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`)
      .join(',')}}`;
  return JSON.stringify(value);
}
