import { defineSensor } from '../../src/sensor/sensor.ts';
import { kubernetesSpec } from './spec.ts';

export const kubernetesSensor = defineSensor({
  kind: 'kubernetes',
  spec: kubernetesSpec,
  load: async () => (await import('./sensor.ts')).createKubernetesSensor,
});
