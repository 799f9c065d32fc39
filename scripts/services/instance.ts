// Private instances of a service, for tests that stop, kill and restart servers (the fault suite): the
// same binaries, settings, start and readiness code as the shared stack, but on free ports of their own and
// a data dir the caller chooses, so the shared stack that other test runs use is never touched.

import { etcd, startEtcdServer } from './etcd.ts';
import { kafka, startKafkaBroker } from './kafka.ts';
import { kinesaliteService, startKinesalite } from './kinesalite.ts';
import { kubeApiserver, kubeconfigOf, startKubeApiserver } from './kube-apiserver.ts';
import { freePort, LOCALHOST } from './lib/probe.ts';
import { liveDaemon, stopDaemon } from './lib/proc.ts';
import { minio, startMinioServer } from './minio.ts';
import { nats, startNatsServer } from './nats.ts';
import { installRedis, startRedisServer } from './redis.ts';

export type InstanceKind = 'redis' | 'nats' | 'kafka' | 'kinesalite' | 'minio' | 'etcd' | 'kube-apiserver';

export interface Instance extends InstanceDescriptor {
  port: number;
  /**
   * How clients reach it: redis://…, nats://…, host:port (Kafka), http://… (kinesalite, MinIO, etcd), and for
   * kube-apiserver the path of its admin kubeconfig (TH_KUBECONFIG).
   */
  url: string;
  /** Starts it (it must not be running) and resolves once it answers; the data dir is kept across starts. */
  start(): Promise<void>;
  /** SIGTERM (a clean shutdown: Redis writes its AOF, Kafka and NATS close their logs), SIGKILL after the grace. */
  stop(): Promise<void>;
  /** SIGKILL at once: a crash. */
  kill(): Promise<void>;
  restart(): Promise<void>;
  running(): boolean;
}

const graceMs: Record<InstanceKind, number> = {
  redis: 10_000,
  nats: 10_000,
  kafka: 30_000,
  kinesalite: 5000,
  minio: 10_000,
  etcd: 10_000,
  // On SIGTERM it drains in-flight requests (watches) for 30 s and more (as the stack's stopGraceMs).
  'kube-apiserver': 5000,
};

/** What identifies a private instance: enough to control it from another process (a test worker). */
export interface InstanceDescriptor {
  kind: InstanceKind;
  id: string;
  /**
   * The client port first, then the others it needs: NATS monitoring, Kafka controller, MinIO console and
   * the port its webhook target posts to (`http://127.0.0.1:<port>/webhooks/minio`: a hub listening there),
   * etcd peer, kube-apiserver's etcd (client port).
   */
  ports: number[];
  dir: string;
}

/**
 * A private instance of `kind` keeping its data in `dir`, on free ports (installed if needed, from the same
 * cache as the stack; not started). Its ids start with `prefix`, so its pid files and logs are told apart
 * from the stack's. A kube-apiserver needs the private etcd it stores in (`options.etcd`, started first).
 */
export async function createInstance(
  kind: InstanceKind,
  dir: string,
  prefix = 'private',
  options: { etcd?: Instance } = {},
): Promise<Instance> {
  const ports = [await freePort()];
  if (kind === 'nats' || kind === 'kafka' || kind === 'etcd') ports.push(await freePort());
  if (kind === 'minio') ports.push(await freePort(), await freePort());
  if (kind === 'kube-apiserver') {
    if (options.etcd?.kind !== 'etcd') throw new Error('a private kube-apiserver needs a private etcd');
    ports.push(options.etcd.port);
  }
  await {
    redis: () => installRedis(prefix),
    nats: nats.install,
    kafka: kafka.install,
    kinesalite: kinesaliteService.install,
    minio: minio.install,
    etcd: etcd.install,
    'kube-apiserver': kubeApiserver.install,
  }[kind]();
  return instanceOf({ kind, id: `${prefix}-${kind}-${ports[0]}`, ports, dir });
}

/** The handle of an instance created here or in another process (it finds the server by its pid file). */
export function instanceOf(descriptor: InstanceDescriptor): Instance {
  const { kind, id, ports, dir } = descriptor;
  const [port, second, third] = ports as [number, number, number];
  const starts: Record<InstanceKind, () => Promise<void>> = {
    redis: () => startRedisServer(id, port, dir),
    nats: () => startNatsServer(id, port, second, dir),
    kafka: () => startKafkaBroker(id, port, second, dir),
    kinesalite: () => startKinesalite(id, port, dir),
    minio: () => startMinioServer(id, port, second, dir, `http://${LOCALHOST}:${third}/webhooks/minio`),
    etcd: () => startEtcdServer(id, port, second, dir),
    'kube-apiserver': () => startKubeApiserver(id, port, second, dir),
  };
  const urls: Record<InstanceKind, string> = {
    redis: `redis://${LOCALHOST}:${port}`,
    nats: `nats://${LOCALHOST}:${port}`,
    kafka: `${LOCALHOST}:${port}`,
    kinesalite: `http://${LOCALHOST}:${port}`,
    minio: `http://${LOCALHOST}:${port}`,
    etcd: `http://${LOCALHOST}:${port}`,
    'kube-apiserver': kubeconfigOf(dir),
  };
  const instance: Instance = {
    ...descriptor,
    port,
    url: urls[kind],
    start: starts[kind],
    stop: async () => {
      await stopDaemon(id, graceMs[kind]);
    },
    kill: async () => {
      await stopDaemon(id, 0, 'SIGKILL');
    },
    restart: async () => {
      await instance.stop();
      await instance.start();
    },
    running: () => liveDaemon(id) !== undefined,
  };
  return instance;
}
