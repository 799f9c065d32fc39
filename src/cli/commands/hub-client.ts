// What the CLI commands that talk to a running hub share: its HTTP API (--url, TH_API_TOKEN) and, for
// commands that read queues directly, its Redis (REDIS_URL / REDIS_CLUSTER_NODES, or the local socket of a
// standalone hub started from the same directory).

import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Option } from 'commander';
import { configFromEnv } from '../../config.ts';
import { createRedis, type RedisClient } from '../../queue/redis.ts';

export const defaultHubUrl = 'http://127.0.0.1:7480';

export const outputOption = () =>
  new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text');

export const urlOption = () =>
  new Option('--url <url>', 'the hub (TH_URL)').env('TH_URL').default(defaultHubUrl);

/** GETs a JSON route of the hub's API with TH_API_TOKEN(_FILE); errors say what to fix. */
export function getJson<T>(base: string, path: string): Promise<T> {
  return requestJson<T>(base, path);
}

/** Calls a JSON route of the hub's API (POST/DELETE with an optional JSON body); errors say what to fix. */
export async function requestJson<T>(
  base: string,
  path: string,
  options: { method?: string; body?: unknown; timeoutMs?: number } = {},
): Promise<T> {
  const token = configFromEnv().apiToken;
  let response: Response;
  try {
    response = await fetch(new URL(path, base), {
      method: options.method ?? 'GET',
      headers: {
        accept: 'application/json',
        ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
    });
  } catch (error) {
    const cause = (
      error as { cause?: { code?: string; message?: string; errors?: Array<{ code?: string }> } }
    ).cause;
    const reason = cause?.code ?? cause?.errors?.[0]?.code ?? cause?.message ?? (error as Error).message;
    throw new Error(`cannot reach the hub at ${base} (${reason}): is it running? (--url)`);
  }
  const text = await response.text();
  if (response.status === 401)
    throw new Error(`the hub at ${base} wants its API token: set TH_API_TOKEN or TH_API_TOKEN_FILE`);
  if (!response.ok) {
    let message = text;
    try {
      const body = JSON.parse(text) as { code?: string; message?: string };
      message = body.code && body.message ? `${body.code}: ${body.message}` : (body.message ?? text);
    } catch {}
    throw new Error(`${path}: HTTP ${response.status}: ${message}`);
  }
  return JSON.parse(text) as T;
}

/** The hub's Redis as the `dlq` commands find it. */
export function redisForCli(purpose: 'producer' | 'worker'): RedisClient {
  const config = configFromEnv();
  if (config.redisClusterNodes?.length)
    return createRedis(
      {
        clusterNodes: config.redisClusterNodes,
        ...(config.redisPassword ? { password: config.redisPassword } : {}),
      },
      purpose,
    );
  let url = config.redisUrl;
  const socket = resolve(config.dataDir, 'redis', 'redis.sock');
  if (!url && existsSync(socket)) url = `unix://${socket}`;
  if (!url)
    throw new Error('set REDIS_URL (or run this next to a standalone hub, which keeps its Redis in .data/)');
  return createRedis({ url }, purpose);
}

export function triggerKey(name: string): string {
  return name.includes('/') ? name : `default/${name}`;
}
