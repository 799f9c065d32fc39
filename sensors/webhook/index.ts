import { defineSensor } from '../../src/sensor/sensor.ts';
import { webhookSpec } from './spec.ts';

export const webhookSensor = defineSensor({
  kind: 'webhook',
  spec: webhookSpec,
  load: async () => (await import('./sensor.ts')).createWebhookSensor,
});
