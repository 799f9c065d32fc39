import { defineSensor } from '../../src/sensor/sensor.ts';
import { createMinioSensor } from './sensor.ts';
import { minioSpec } from './spec.ts';

export const minioSensor = defineSensor({
  kind: 'minio',
  spec: minioSpec,
  create: createMinioSensor,
});
