// Private instances of a service, for tests that stop, kill and restart servers (the fault suite): the
// same binaries, settings, start and readiness code as the shared stack, but on free ports of their own and
// a data dir the caller chooses, so the shared stack that other test runs use is never touched.

import { createServer } from 'node:net';
import { kafka, startKafkaBroker } from './kafka.ts';
import { kinesaliteService, startKinesalite } from './kinesalite.ts';
import { LOCALHOST } from './lib/probe.ts';
import { liveDaemon, stopDaemon } from './lib/proc.ts';
import { nats, startNatsServer } from './nats.ts';
import { installRedis, startRedisServer } from './redis.ts';

export type InstanceKind = 'redis' | 'nats' | 'kafka' | 'kinesalite';

export interface Instance {
  kind: InstanceKind;
  /** Pid file and log id (`.data/services/run/<id>.pid`, `logs/<id>.log`). */
  id: string;
  port: number;
  /** How clients reach it: redis://…, nats://…, host:port (Kafka), http://… (kinesalite). */
  url: string;
  dir: string;
  /** Starts it (it must not be running) and resolves once it answers; the data dir is kept across starts. */
  start(): Promise<void>;
  /** SIGTERM (a clean shutdown: Redis writes its AOF, Kafka and NATS close their logs), SIGKILL after the grace. */
  stop(): Promise<void>;
  /** SIGKILL at once: a crash. */
  kill(): Promise<void>;
  restart(): Promise<void>;
  running(): boolean;
}

/** A port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, LOCALHOST, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const graceMs: Record<InstanceKind, number> = {
  redis: 10_000,
  nats: 10_000,
  kafka: 30_000,
  kinesalite: 5000,
};

/**
 * A private instance of `kind` keeping its data in `dir` (installed if needed, from the same cache as the
 * stack; not started). Its ids start with `prefix`, so its pid files and logs are told apart from the stack's.
 */
export async function createInstance(kind: InstanceKind, dir: string, prefix = 'private'): Promise<Instance> {
  const port = await freePort();
  const id = `${prefix}-${kind}-${port}`;
  let start: () => Promise<void>;
  let url: string;
  switch (kind) {
    case 'redis':
      await installRedis(id);
      start = () => startRedisServer(id, port, dir);
      url = `redis://${LOCALHOST}:${port}`;
      break;
    case 'nats': {
      await nats.install();
      const monitorPort = await freePort();
      start = () => startNatsServer(id, port, monitorPort, dir);
      url = `nats://${LOCALHOST}:${port}`;
      break;
    }
    case 'kafka': {
      await kafka.install();
      const controllerPort = await freePort();
      start = () => startKafkaBroker(id, port, controllerPort, dir);
      url = `${LOCALHOST}:${port}`;
      break;
    }
    case 'kinesalite':
      await kinesaliteService.install();
      start = () => startKinesalite(id, port, dir);
      url = `http://${LOCALHOST}:${port}`;
      break;
  }
  const instance: Instance = {
    kind,
    id,
    port,
    url,
    dir,
    start,
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
