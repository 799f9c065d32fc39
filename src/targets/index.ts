import type { DeliverySpec, TargetSpec } from '../trigger/schema.ts';
import { createHttpTarget } from './http.ts';
import { createSlackTarget } from './slack.ts';
import type { Target } from './target.ts';

export function createTarget(spec: TargetSpec, delivery: DeliverySpec): Target {
  if (spec.http) return createHttpTarget(spec.http, delivery.timeoutMs);
  return createSlackTarget(spec.slack!, delivery.timeoutMs);
}
