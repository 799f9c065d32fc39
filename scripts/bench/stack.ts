// The service stack the bench runs on: its settings (.data/services/env.json), its Redis, and starting the
// services the chosen sources need when they are not up yet.

import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { envFile, repoRoot } from '../services/lib/paths.ts';
import { tcpOpen } from '../services/lib/probe.ts';
import { exitOf, track } from './children.ts';
import { log } from './log.ts';
import type { SourceName } from './settings.ts';

/** The service stack's settings (TH_REDIS_URL, TH_KAFKA_BROKERS, TH_NATS_URL, …). */
export function stackEnv(): Record<string, string> {
  return existsSync(envFile) ? (JSON.parse(readFileSync(envFile, 'utf8')) as Record<string, string>) : {};
}

export function stackRedisUrl(): string {
  return stackEnv().TH_REDIS_URL ?? 'redis://127.0.0.1:7301';
}

async function ping(url: string): Promise<boolean> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

/** Starts the stack's services the chosen sources need (idempotent: seconds when they already run). */
export async function ensureServices(sources: SourceName[]): Promise<string> {
  const services = [
    'redis',
    ...sources.flatMap((name) => (name === 'kafka' ? ['kafka'] : name === 'jetstream' ? ['nats'] : [])),
  ];
  let url = stackRedisUrl();
  const env = stackEnv();
  const brokersAnswer = async () => {
    const ports = [
      ...(services.includes('kafka') ? [env.TH_KAFKA_BROKERS] : []),
      ...(services.includes('nats') ? [env.TH_NATS_URL] : []),
    ].map((address) => Number(/:(\d+)/.exec(address ?? '')?.[1]));
    return (await Promise.all(ports.map((port) => port > 0 && tcpOpen(port)))).every(Boolean);
  };
  if ((await ping(url)) && (await brokersAnswer())) return url;
  log(`node scripts/services/main.ts up ${services.join(' ')}`);
  const up = track(
    spawn(process.execPath, ['scripts/services/main.ts', 'up', ...services], {
      cwd: repoRoot,
      stdio: ['ignore', 2, 2],
    }),
  );
  const code = await exitOf(up, 1_800_000);
  url = stackRedisUrl();
  if (code !== 0 || !(await ping(url)))
    throw new Error(`could not start ${services.join(', ')} (exit ${code})`);
  return url;
}

/** `url` on database `db`. */
export function withDb(url: string, db: number): string {
  const parsed = new URL(url);
  parsed.pathname = `/${db}`;
  return parsed.toString();
}

/** A fresh database for each system under test. */
export async function flushDb(url: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    await redis.flushdb();
  } finally {
    redis.disconnect();
  }
}

/** The pid of redis-server, when it runs on this machine (its CPU time is measured too). */
export async function redisServerPid(url: string): Promise<number | undefined> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  let info: string;
  try {
    info = await redis.info('server');
  } finally {
    redis.disconnect();
  }
  const pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
  return existsSync(`/proc/${pid}/stat`) ? pid : undefined;
}

let statsClient: Redis | undefined;

/** Redis's own counters (INFO stats): commands processed and socket reads. */
export async function redisCounters(): Promise<{ commands: number; reads: number }> {
  statsClient ??= new Redis(stackRedisUrl(), { maxRetriesPerRequest: 1 });
  const info = await statsClient.info('stats');
  const value = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? 0);
  return { commands: value('total_commands_processed'), reads: value('total_reads_processed') };
}

export function closeRedisCounters(): void {
  statsClient?.disconnect();
}
