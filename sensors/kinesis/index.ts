import { defineSensor } from '../../src/sensor/sensor.ts';
import { createKinesisSensor } from './sensor.ts';
import { kinesisSpec } from './spec.ts';

export const kinesisSensor = defineSensor({
  kind: 'kinesis',
  spec: kinesisSpec,
  create: createKinesisSensor,
});
