import { defineSensor } from '../../src/sensor/sensor.ts';
import { kafkaSpec } from './spec.ts';

export const kafkaSensor = defineSensor({
  kind: 'kafka',
  spec: kafkaSpec,
  load: async () => (await import('./sensor.ts')).createKafkaSensor,
  backfill: async () => (await import('./backfill.ts')).createKafkaBackfillReader,
});
