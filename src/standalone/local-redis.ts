// Standalone mode without REDIS_URL: the hub runs its own redis-server as a child, on a unix socket under
// the data directory (no port to collide with), with AOF on so a restart loses nothing.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { HubError } from '../errors.ts';
import { sleep } from '../retry/backoff.ts';

export interface LocalRedis {
  url: string;
  stop(): Promise<void>;
}

const installHint =
  'redis-server is not on PATH. Install it (Debian/Ubuntu: apt-get install redis-server; Fedora: dnf install redis; macOS: brew install redis) or point REDIS_URL at a Redis you run.';

/** A one-shot client: no reconnects, no retries (a server that shut down must not be dialled forever). */
function oneShotClient(socket: string): Redis {
  const client = new Redis({
    path: socket,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => {});
  return client;
}

async function ping(socket: string): Promise<boolean> {
  const client = oneShotClient(socket);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

export async function startLocalRedis(dataDir: string, log: Logger): Promise<LocalRedis> {
  if (spawnSync('redis-server', ['--version']).error) throw new HubError('TH_ERR_REDIS_MISSING', installHint);
  const dir = resolve(dataDir, 'redis');
  mkdirSync(dir, { recursive: true });
  const socket = resolve(dir, 'redis.sock');
  // A hub that was SIGKILLed leaves its redis-server behind: shut it down (it saves its AOF) and start ours.
  if (existsSync(socket) && (await ping(socket))) {
    const stale = oneShotClient(socket);
    await stale.connect().catch(() => {});
    await stale.shutdown().catch(() => {}); // the connection drops as the server exits
    stale.disconnect();
    for (let i = 0; i < 50 && existsSync(socket); i++) await sleep(100);
  }
  const child: ChildProcess = spawn(
    'redis-server',
    [
      '--port',
      '0',
      '--unixsocket',
      socket,
      '--unixsocketperm',
      '700',
      '--dir',
      dir,
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--maxmemory-policy',
      'noeviction',
      '--save',
      '',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });
  for (let i = 0; i < 100 && !(await ping(socket)); i++) {
    if (exited) throw new HubError('TH_ERR_CONFIG', `redis-server exited at start; see ${dir}`);
    await sleep(50);
  }
  log.info(
    { socket, dataDir: dir },
    'started a local redis-server (standalone mode; set REDIS_URL to use your own)',
  );
  return {
    url: `unix://${socket}`,
    async stop() {
      if (exited) return;
      child.kill('SIGTERM'); // redis-server flushes its AOF and removes its socket on SIGTERM
      for (let i = 0; i < 200 && !exited; i++) await sleep(50);
      if (!exited) child.kill('SIGKILL');
    },
  };
}
