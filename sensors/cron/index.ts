import { defineSensor } from '../../src/sensor/sensor.ts';
import { createCronSensor } from './sensor.ts';
import { cronSpec } from './spec.ts';

export const cronSensor = defineSensor({ kind: 'cron', spec: cronSpec, create: createCronSensor });
