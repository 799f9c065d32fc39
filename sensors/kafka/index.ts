import { defineSensor } from '../../src/sensor/sensor.ts';
import { kafkaSpec } from './spec.ts';

export const kafkaSensor = defineSensor({
  kind: 'kafka',
  spec: kafkaSpec,
  load: async () => (await import('./sensor.ts')).createKafkaSensor,
  backfill: async () => (await import('./backfill.ts')).createKafkaBackfillReader,
  capabilities: {
    repliesPerEvent: { field: 'responseTopic' },
    // A message without a key keeps its partition's order (the extensions kafkaMessageToEvent sets).
    sourceOrderOf: (event) =>
      event.kafkatopic !== undefined && event.kafkapartition !== undefined
        ? `${event.kafkatopic}/${event.kafkapartition}`
        : undefined,
  },
});
