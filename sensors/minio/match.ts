// Which records a trigger keeps: event names (with `*` wildcards or mc shorthands), bucket, key prefix and
// suffix, the same filters `mc event add` offers, applied to the decoded key.

import type { MinioRecord } from './payload.ts';
import { eventShorthands, type MinioSpec } from './spec.ts';

function globToRegExp(pattern: string): RegExp {
  const expanded = eventShorthands[pattern] ?? pattern;
  const source = expanded
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${source}$`);
}

/** `s3:ObjectCreated:*` matches every created-object event; no patterns match everything. */
export function eventNameMatcher(patterns: string[] | undefined): (eventName: string) => boolean {
  if (!patterns || patterns.length === 0) return () => true;
  const expressions = patterns.map(globToRegExp);
  return (eventName) => expressions.some((expression) => expression.test(eventName));
}

export function recordMatcher(
  spec: Pick<MinioSpec, 'events' | 'bucket' | 'prefix' | 'suffix'>,
): (record: MinioRecord) => boolean {
  const eventName = eventNameMatcher(spec.events);
  return (record) =>
    eventName(record.eventName) &&
    (spec.bucket === undefined || record.bucket === spec.bucket) &&
    (spec.prefix === undefined || record.key.startsWith(spec.prefix)) &&
    (spec.suffix === undefined || record.key.endsWith(spec.suffix));
}
