import { defineSensor } from '../../src/sensor/sensor.ts';
import { createNatsSensor } from './sensor.ts';
import { natsSpec } from './spec.ts';

export const natsSensor = defineSensor({ kind: 'nats', spec: natsSpec, create: createNatsSensor });
