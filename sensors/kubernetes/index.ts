import { defineSensor } from '../../src/sensor/sensor.ts';
import { createKubernetesSensor } from './sensor.ts';
import { kubernetesSpec } from './spec.ts';

export const kubernetesSensor = defineSensor({
  kind: 'kubernetes',
  spec: kubernetesSpec,
  create: (spec, context) => createKubernetesSensor(spec, context),
});
