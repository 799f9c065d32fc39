// Which FIFO an event joins in per-key ordered delivery (docs/kafka.md "Ordering"). The key is the chosen
// attribute (default `partitionkey`: the Kafka message key, the Kinesis partition key); an event without it
// falls back to where its source itself keeps order (a source's `capabilities.sourceOrderOf`: the Kafka
// partition), else the subject (the JetStream subject, the Kubernetes object, the MinIO object), else one
// FIFO for the whole trigger.

import { createHash } from 'node:crypto';
import type { HubEvent } from '../envelope/event.ts';
import type { SensorCapabilities } from '../sensor/sensor.ts';

/** Longer keys are hashed: a Kafka key can be any size, and it becomes part of a Redis key name. */
const maxKeyLength = 200;

/** The FIFO of events that have no key at all. */
export const triggerWideKey = '*';

function text(value: unknown): string | undefined {
  if (typeof value === 'string') return value === '' ? undefined : value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

/**
 * The ordering key of `event`. Each fallback level has its own prefix, so a partitionkey that happens to
 * read like a partition never shares a FIFO with it by accident.
 */
export function orderingKeyOf(
  event: Pick<HubEvent, string>,
  attribute: string,
  sourceOrderOf?: SensorCapabilities['sourceOrderOf'],
): string {
  const own = text(event[attribute]);
  if (own !== undefined) return bounded(`k:${own}`);
  const place = sourceOrderOf?.(event);
  if (place !== undefined && place !== '') return bounded(`p:${place}`);
  const subject = text(event.subject);
  if (subject !== undefined) return bounded(`s:${subject}`);
  return triggerWideKey;
}

function bounded(key: string): string {
  if (key.length <= maxKeyLength) return key;
  return `h:${createHash('sha256').update(key).digest('hex')}`;
}
