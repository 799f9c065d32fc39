import { defineSensor } from '../../src/sensor/sensor.ts';
import { kinesisSpec } from './spec.ts';

export const kinesisSensor = defineSensor({
  kind: 'kinesis',
  spec: kinesisSpec,
  load: async () => (await import('./sensor.ts')).createKinesisSensor,
  backfill: async () => (await import('./backfill.ts')).createKinesisBackfillReader,
});
