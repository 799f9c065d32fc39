// The hub's settings, from the environment (12-factor) with command-line overrides in the CLI.

import { readFileSync } from 'node:fs';
import { HubError } from './errors.ts';

export interface HubConfig {
  /** Unset (and no cluster): standalone mode starts its own redis-server. */
  redisUrl: string | undefined;
  /** host:port seeds of a Redis Cluster (REDIS_CLUSTER_NODES); takes precedence over redisUrl. */
  redisClusterNodes: string[] | undefined;
  /** Password for the cluster nodes (REDIS_PASSWORD). */
  redisPassword: string | undefined;
  host: string;
  port: number;
  triggersDir: string;
  dataDir: string;
  apiToken: string | undefined;
  logLevel: string;
  /** How long SIGTERM waits for in-flight deliveries. */
  shutdownDeadlineMs: number;
  /** Hard cap on any request body (each webhook trigger has its own, smaller limit). */
  maxBodyBytes: number;
  /**
   * A trigger's delivery Worker is closed after this long without work and started again when events arrive
   * (TH_DISPATCH_IDLE_MS; 0 keeps one Worker per trigger at all times, as on a Redis Cluster).
   */
  dispatchIdleMs: number;
  /** HTTPS instead of HTTP (TH_TLS_CERT_FILE, TH_TLS_KEY_FILE); with a client CA, mTLS for /api and /dashboard. */
  tls?: TlsFiles;
}

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** TH_TLS_CLIENT_CA_FILE: /api and /dashboard then need a client certificate signed by this CA. */
  clientCaFile?: string;
}

function tlsFiles(env: NodeJS.ProcessEnv): TlsFiles | undefined {
  const { TH_TLS_CERT_FILE: certFile, TH_TLS_KEY_FILE: keyFile, TH_TLS_CLIENT_CA_FILE: clientCaFile } = env;
  if (!certFile && !keyFile && !clientCaFile) return undefined;
  if (!certFile || !keyFile)
    throw new HubError(
      'TH_ERR_CONFIG',
      'set both TH_TLS_CERT_FILE and TH_TLS_KEY_FILE (and optionally TH_TLS_CLIENT_CA_FILE)',
    );
  return { certFile, keyFile, ...(clientCaFile ? { clientCaFile } : {}) };
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0)
    throw new HubError('TH_ERR_CONFIG', `${name} must be a non-negative integer, got "${raw}"`);
  return value;
}

/**
 * The API token: TH_API_TOKEN_FILE (a mounted Secret; read once, trimmed) or TH_API_TOKEN. Never a
 * command-line flag, which any user of the machine can read in `ps`.
 */
function apiToken(env: NodeJS.ProcessEnv): string | undefined {
  const file = env.TH_API_TOKEN_FILE;
  if (file) {
    let token: string;
    try {
      token = readFileSync(file, 'utf8').trim();
    } catch (error) {
      throw new HubError('TH_ERR_CONFIG', `TH_API_TOKEN_FILE ${file} cannot be read`, { cause: error });
    }
    if (token === '') throw new HubError('TH_ERR_CONFIG', `TH_API_TOKEN_FILE ${file} is empty`);
    return token;
  }
  return env.TH_API_TOKEN || undefined;
}

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): HubConfig {
  return {
    redisUrl: env.REDIS_URL || undefined,
    redisClusterNodes: env.REDIS_CLUSTER_NODES
      ? env.REDIS_CLUSTER_NODES.split(',').filter(Boolean)
      : undefined,
    redisPassword: env.REDIS_PASSWORD || undefined,
    host: env.TH_HOST ?? '127.0.0.1',
    port: integer(env, 'TH_PORT', 7480),
    triggersDir: env.TH_TRIGGERS_DIR ?? 'triggers',
    dataDir: env.TH_DATA_DIR ?? '.data',
    apiToken: apiToken(env),
    logLevel: env.LOG_LEVEL ?? 'info',
    shutdownDeadlineMs: integer(env, 'TH_SHUTDOWN_DEADLINE_MS', 10_000),
    maxBodyBytes: integer(env, 'TH_MAX_BODY_BYTES', 16 * 1024 * 1024),
    dispatchIdleMs: integer(env, 'TH_DISPATCH_IDLE_MS', 30_000),
    ...(tlsFiles(env) ? { tls: tlsFiles(env) } : {}),
  };
}
