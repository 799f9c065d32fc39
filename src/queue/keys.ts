// Every Redis key and queue name of the hub is built here. Each trigger's keys share one hash tag
// (`{namespace/name}`), so a trigger's queue lives in one Redis Cluster slot while triggers spread across slots.

import type { TriggerRef } from '../interfaces/trigger-ref.ts';

export const keyPrefix = 'th';

/** The BullMQ queue of a trigger's live events. Its failed set is the trigger's dead-letter queue. */
export function queueName(trigger: Pick<TriggerRef, 'key'>): string {
  return `{${trigger.key}}`;
}

export function triggerKeyOfQueue(name: string): string | undefined {
  return /^\{(.+)\}$/.exec(name)?.[1];
}

/** Per-trigger state outside BullMQ (checkpoints, leases), in the trigger's slot. */
export function triggerStateKey(trigger: Pick<TriggerRef, 'key'>, ...parts: string[]): string {
  return [keyPrefix, queueName(trigger), ...parts].join(':');
}

/** The BullMQ job hash of `jobId` (an encoded event id) in the trigger's queue. */
export function jobKey(trigger: Pick<TriggerRef, 'key'>, jobId: string): string {
  return [keyPrefix, queueName(trigger), jobId].join(':');
}

/**
 * Per-key ordered delivery (src/queue/ordered-queue.ts): the pending events by job id, the set of ordering
 * keys with pending events, and one FIFO list of job ids per ordering key. Event ids always contain `/`, so
 * no BullMQ job key can collide with these.
 */
export function orderedKeys(trigger: Pick<TriggerRef, 'key'>) {
  return {
    events: triggerStateKey(trigger, 'ordered', 'events'),
    keys: triggerStateKey(trigger, 'ordered', 'keys'),
    list: (orderingKey: string) => triggerStateKey(trigger, 'ordered', 'key', orderingKey),
  };
}

/**
 * The BullMQ queue a trigger's backfills are delivered from: apart from the live queue (the live stream never
 * waits behind a backfill) but in the same hash slot (`{namespace/name}` is still the hash tag).
 */
export function backfillQueueName(trigger: Pick<TriggerRef, 'key'>): string {
  return `${queueName(trigger)}-backfill`;
}

/** Trigger keys that have a running backfill: one set for the hub, scanned to resume backfills. */
export const activeBackfillsKey = `${keyPrefix}:backfills:active`;
