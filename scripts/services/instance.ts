// Private instances of a service, for tests that stop, kill and restart servers (the fault suite): the
// same binaries, settings, start and readiness code as the shared stack, but on free ports of their own and
// a data dir the caller chooses, so the shared stack that other test runs use is never touched.

import { freePort } from './lib/probe.ts';
import { liveDaemon, stopDaemon } from './lib/proc.ts';
import { SERVICES } from './registry.ts';
import type { InstanceRecipe, Service } from './service.ts';

/** The name of a service whose definition has an `instance` recipe (redis, nats, kafka, kinesalite, ...). */
export type InstanceKind = string;

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

/** The service `kind` of the registry, with its instance recipe. */
function recipeOf(kind: InstanceKind): { service: Service; recipe: InstanceRecipe } {
  const service = SERVICES.find((s) => s.name === kind);
  if (service?.instance) return { service, recipe: service.instance };
  const kinds = SERVICES.filter((service) => service.instance).map((service) => service.name);
  throw new Error(`no private instances of "${kind}" (those that have them: ${kinds.join(', ')})`);
}

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
  const { service, recipe } = recipeOf(kind);
  const ports: number[] = [];
  for (let i = 0; i < recipe.freePorts; i++) ports.push(await freePort());
  if (recipe.storesIn) {
    const store = (options as Record<string, Instance | undefined>)[recipe.storesIn];
    if (store?.kind !== recipe.storesIn)
      throw new Error(`a private ${kind} needs a private ${recipe.storesIn}`);
    ports.push(store.port);
  }
  await (recipe.install ? recipe.install(prefix) : service.install());
  return instanceOf({ kind, id: `${prefix}-${kind}-${ports[0]}`, ports, dir });
}

/** The handle of an instance created here or in another process (it finds the server by its pid file). */
export function instanceOf(descriptor: InstanceDescriptor): Instance {
  const { kind, id, ports, dir } = descriptor;
  const { recipe } = recipeOf(kind);
  const instance: Instance = {
    ...descriptor,
    port: ports[0]!,
    url: recipe.url(ports, dir),
    start: () => recipe.start(id, ports, dir),
    stop: async () => {
      await stopDaemon(id, recipe.graceMs);
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
