import { kafka } from '../../sensors/kafka/service.ts';
import { kinesaliteService } from '../../sensors/kinesis/service.ts';
import { minio } from '../../sensors/minio/service.ts';
import { nats } from '../../sensors/nats/service.ts';
import { etcd } from './etcd.ts';
import { kubeApiserver } from './kube-apiserver.ts';
import { kubeControllerManager } from './kube-controller-manager.ts';
import { prometheus } from './prometheus.ts';
import { prometheusAdapter } from './prometheus-adapter.ts';
import { redis } from './redis.ts';
import { redisCluster } from './redis-cluster.ts';
import type { Service } from './service.ts';

/**
 * Every service of the stack, one line each (as src/registry.ts lists the sources): the servers the hub
 * itself needs live in this folder, a source's own server in its folder, sensors/<kind>/service.ts. The
 * order is the install order on a cold machine: the quick ones first, so they are up and serving while the
 * long Go builds run.
 */
export const SERVICES: readonly Service[] = [
  redis,
  redisCluster,
  kinesaliteService,
  kafka,
  nats,
  etcd,
  minio,
  kubeApiserver,
  prometheus,
  kubeControllerManager,
  prometheusAdapter,
];

/**
 * Services that only a few tests use and whose cold build is long (Prometheus, prometheus-adapter,
 * kube-controller-manager: about a quarter of a cold machine's build time). The integration suite's global setup
 * brings them up in a background process while the other tests run, and the tests that need them wait
 * (test/setup/background.ts); `npm run services -- up` with no names still starts them with the rest.
 */
export const BACKGROUND_SERVICES = ['prometheus', 'kube-controller-manager', 'prometheus-adapter'];

/** Names a user may give for a group of services. */
export const ALIASES: Record<string, string[]> = {
  all: SERVICES.map((s) => s.name),
  // What `npm test` starts before vitest; vitest's global setup then starts the background ones itself.
  foreground: SERVICES.map((s) => s.name).filter((name) => !BACKGROUND_SERVICES.includes(name)),
  kubernetes: ['etcd', 'kube-apiserver', 'kube-controller-manager'],
  k8s: ['etcd', 'kube-apiserver', 'kube-controller-manager'],
  autoscaling: ['etcd', 'kube-apiserver', 'kube-controller-manager', 'prometheus', 'prometheus-adapter'],
  kinesis: ['kinesalite'],
};

/** Resolves names and aliases (none: every service) to services in registry order, with their dependencies. */
export function resolveServices(names: string[], withDependencies: boolean): Service[] {
  const wanted = new Set<string>();
  const add = (name: string) => {
    const svc = SERVICES.find((s) => s.name === name);
    if (!svc) {
      const known = [...SERVICES.map((s) => s.name), ...Object.keys(ALIASES)].join(', ');
      throw new Error(`unknown service "${name}" (known: ${known})`);
    }
    wanted.add(name);
    if (withDependencies) svc.dependsOn.forEach(add);
  };
  for (const name of names.length ? names : ['all']) (ALIASES[name] ?? [name]).forEach(add);
  return SERVICES.filter((s) => wanted.has(s.name));
}
