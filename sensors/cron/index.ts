import { defineSensor } from '../../src/sensor/sensor.ts';
import { cronSpec } from './spec.ts';

export const cronSensor = defineSensor({
  kind: 'cron',
  spec: cronSpec,
  load: async () => (await import('./sensor.ts')).createCronSensor,
});
