import { defineSensor } from '../../src/sensor/sensor.ts';
import { minioSpec } from './spec.ts';

export const minioSensor = defineSensor({
  kind: 'minio',
  spec: minioSpec,
  load: async () => (await import('./sensor.ts')).createMinioSensor,
  backfill: async () => (await import('./backfill.ts')).createMinioBackfillReader,
});
