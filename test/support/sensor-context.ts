// A SensorContext built by hand for a sensor under test: its `emitDurably` is the hub's own retrier around
// the test's `emit`, as src/engine/running-trigger.ts builds it.

import { createEmitDurably } from '../../src/sensor/emit-durably.ts';
import type { SensorContext } from '../../src/sensor/sensor.ts';

export function sensorContext(context: Omit<SensorContext, 'emitDurably'>): SensorContext {
  const { emit, trigger, log, signal } = context;
  return { ...context, emitDurably: createEmitDurably({ emit, trigger: trigger.key, log, signal }) };
}
