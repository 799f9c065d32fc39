import { defineSensor } from '../../src/sensor/sensor.ts';
import { createWebhookSensor } from './sensor.ts';
import { webhookSpec } from './spec.ts';

export const webhookSensor = defineSensor({
  kind: 'webhook',
  spec: webhookSpec,
  create: createWebhookSensor,
});
