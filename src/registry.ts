// The one place src/ imports sensors: a table of built-in source kinds. Adding a source = a folder under
// sensors/ and one line here.

import { cronSensor } from '../sensors/cron/index.ts';
import { kafkaSensor } from '../sensors/kafka/index.ts';
import { kinesisSensor } from '../sensors/kinesis/index.ts';
import { kubernetesSensor } from '../sensors/kubernetes/index.ts';
import { minioSensor } from '../sensors/minio/index.ts';
import { natsSensor } from '../sensors/nats/index.ts';
import { webhookSensor } from '../sensors/webhook/index.ts';

export const builtinSensors = {
  cron: cronSensor,
  kafka: kafkaSensor,
  kinesis: kinesisSensor,
  kubernetes: kubernetesSensor,
  minio: minioSensor,
  nats: natsSensor,
  webhook: webhookSensor,
} as const;

export type SourceKind = keyof typeof builtinSensors;
