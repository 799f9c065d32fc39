import { defineSensor } from '../../src/sensor/sensor.ts';
import { createKafkaSensor } from './sensor.ts';
import { kafkaSpec } from './spec.ts';

export const kafkaSensor = defineSensor({ kind: 'kafka', spec: kafkaSpec, create: createKafkaSensor });
