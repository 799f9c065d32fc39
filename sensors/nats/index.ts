import { defineSensor } from '../../src/sensor/sensor.ts';
import { natsSpec } from './spec.ts';

export const natsSensor = defineSensor({
  kind: 'nats',
  spec: natsSpec,
  load: async () => (await import('./sensor.ts')).createNatsSensor,
  backfill: async () => (await import('./backfill.ts')).createJetStreamBackfillReader,
  capabilities: { repliesPerEvent: { field: 'responseSubject' } },
});
