import { mkdirSync } from 'node:fs';
import { which } from './lib/exec.ts';
import { aptEnsure } from './lib/install.ts';
import { serviceDataDir } from './lib/paths.ts';
import { LOCALHOST, redisCommand } from './lib/probe.ts';
import { launch } from './lib/proc.ts';
import { PORTS } from './ports.ts';
import type { Service } from './service.ts';

/** redis-server and redis-cli from Debian (redis-tools comes with redis-server). */
export async function installRedis(scope: string): Promise<void> {
  await aptEnsure(scope, [
    { command: 'redis-server', pkg: 'redis-server' },
    { command: 'redis-cli', pkg: 'redis-tools' },
  ]);
}

/** What BullMQ needs of Redis: AOF on (durable acknowledgements) and noeviction (no job silently evicted). */
export function redisArgs(port: number, dir: string): string[] {
  // biome-ignore format: flag and value pairs read better side by side
  return [
    '--port', String(port),
    '--bind', LOCALHOST,
    '--dir', dir,
    '--appendonly', 'yes',
    '--appendfsync', 'everysec',
    '--maxmemory-policy', 'noeviction',
    '--daemonize', 'no',
    '--logfile', '',
  ];
}

export async function redisPing(port: number): Promise<boolean> {
  try {
    return (await redisCommand(port, ['PING'])) === 'PONG';
  } catch {
    return false;
  }
}

/** One redis-server with the stack's settings; also used by private instances (instance.ts). */
export async function startRedisServer(id: string, port: number, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await launch(
    { id, command: which('redis-server')!, args: redisArgs(port, dir), port },
    () => redisPing(port),
    30_000,
  );
}

export const redis: Service = {
  name: 'redis',
  summary: 'Redis (Debian redis-server), AOF on, maxmemory-policy noeviction',
  dependsOn: [],
  procs: [{ id: 'redis', port: PORTS.redis, ports: [PORTS.redis] }],
  install: () => installRedis('redis'),
  start: () => startRedisServer('redis', PORTS.redis, serviceDataDir('redis')),
  ready: () => redisPing(PORTS.redis),
  env: () => ({ TH_REDIS_URL: `redis://${LOCALHOST}:${PORTS.redis}` }),
  instance: {
    freePorts: 1,
    graceMs: 10_000,
    install: installRedis,
    start: (id, [port], dir) => startRedisServer(id, port!, dir),
    url: ([port]) => `redis://${LOCALHOST}:${port}`,
  },
};
