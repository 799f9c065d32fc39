// The private service instances of the fault suite (started by its global setup), as handles a scenario can
// stop, kill and restart.

import { type Instance, type InstanceDescriptor, instanceOf } from '../../../scripts/services/instance.ts';

export interface FaultInstances {
  redis: Instance;
  nats: Instance;
  kafka: Instance;
  kinesalite: Instance;
  /** Its webhook target posts to the hub on `ports[2]` (the scenario's hub listens there). */
  minio: Instance;
  etcd: Instance;
  /** `url` is the path of its admin kubeconfig. */
  'kube-apiserver': Instance;
}

export function faultInstances(): FaultInstances {
  const raw = process.env.TH_FAULT_INSTANCES;
  if (!raw) throw new Error('TH_FAULT_INSTANCES is not set: run the fault suite with `npm run test:faults`');
  const byKind = Object.fromEntries(
    (JSON.parse(raw) as InstanceDescriptor[]).map((descriptor) => [descriptor.kind, instanceOf(descriptor)]),
  );
  return byKind as unknown as FaultInstances;
}

/** A count from the environment (so CI can scale a scenario down), else the default. */
export function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0)
    throw new Error(`${name} must be a non-negative number, got "${raw}"`);
  return value;
}
