import { defineSensor } from '../../src/sensor/sensor.ts';
import { counterSpec } from './spec.ts';

// What src/registry.ts lists: the kind, the spec, and the implementation loaded on first use.
export const counterSensor = defineSensor({
  kind: 'counter',
  spec: counterSpec,
  load: async () => (await import('./sensor.ts')).createCounterSensor,
});
