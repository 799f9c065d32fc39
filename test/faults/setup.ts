// Global setup of the fault suite: it starts PRIVATE instances of Redis, NATS, Kafka, kinesalite, MinIO, etcd
// and kube-apiserver (on free ports, data in a temporary folder), because its scenarios stop, kill and cut them, and the shared stack is
// in use by other test runs. At the end it stops them and prints the suite's one table.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInstance, type Instance, type InstanceKind } from '../../scripts/services/instance.ts';
import { say } from '../../scripts/services/lib/log.ts';
import { printTable } from './support/report.ts';

// etcd before the kube-apiserver that stores in it.
const kinds: InstanceKind[] = ['redis', 'nats', 'kinesalite', 'minio', 'etcd', 'kube-apiserver', 'kafka'];

export default async function setup(): Promise<() => Promise<void>> {
  const base = mkdtempSync(join(tmpdir(), 'th-faults-'));
  const instances: Instance[] = [];
  const stopAll = async () => {
    for (const instance of instances) await instance.kill();
  };
  try {
    // One at a time: Kafka's JVM start is the slow one and the box has two cores.
    for (const kind of kinds) {
      const etcd = instances.find((i) => i.kind === 'etcd');
      const instance = await createInstance(kind, join(base, kind), 'faults', { etcd });
      instances.push(instance);
      await instance.start();
      say('faults', `${kind} ${instance.url} (${instance.id})`);
    }
  } catch (error) {
    await stopAll();
    throw error;
  }
  process.env.TH_FAULT_INSTANCES = JSON.stringify(
    instances.map(({ kind, id, ports, dir }) => ({ kind, id, ports, dir })),
  );
  process.env.TH_FAULT_RESULTS = join(base, 'results.jsonl');
  // The hub processes and test helpers (test/support/hub.ts) talk to the private Redis.
  process.env.TH_REDIS_URL = instances.find((i) => i.kind === 'redis')!.url;
  // … and the private kube-apiserver (the watch source).
  process.env.TH_KUBECONFIG = instances.find((i) => i.kind === 'kube-apiserver')!.url;
  return async () => {
    printTable(process.env.TH_FAULT_RESULTS!);
    await stopAll();
    if (process.env.TH_FAULT_KEEP !== '1') rmSync(base, { recursive: true, force: true });
  };
}
