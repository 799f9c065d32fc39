// Starting hubs in tests: in-process (fast, for most tests) or as a child process running the real CLI
// (for SIGKILL and multi-process tests). Both use the service stack's Redis (TH_REDIS_URL).

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { configFromEnv, type HubConfig } from '../../src/config.ts';
import { type Hub, startHub } from '../../src/hub.ts';
import { parseTriggers } from '../../src/trigger/load.ts';
import { waitFor } from './wait.ts';

/** Child-process hubs need to know their port in advance. */
export { freePort } from '../../scripts/services/lib/probe.ts';

export function redisUrl(): string {
  const url = process.env.TH_REDIS_URL;
  if (!url)
    throw new Error(
      'TH_REDIS_URL is not set: run the integration project (its global setup starts the services)',
    );
  return url;
}

/** A namespace of its own per test, so tests sharing one Redis never see each other's keys. */
export function uniqueNamespace(prefix = 't'): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

export type TriggerDoc = Record<string, unknown>;

/** A Trigger document with the usual envelope around `spec`. */
export function triggerDoc(namespace: string, name: string, spec: Record<string, unknown>): TriggerDoc {
  return { apiVersion: 'triggerhub.io/v1alpha1', kind: 'Trigger', metadata: { namespace, name }, spec };
}

export function testConfig(overrides: Partial<HubConfig> = {}): HubConfig {
  return {
    ...configFromEnv({}),
    redisUrl: redisUrl(),
    port: 0,
    logLevel: 'warn',
    shutdownDeadlineMs: 5000,
    ...overrides,
  };
}

/** An in-process hub running `docs`; throws if any of them is invalid. */
export async function startTestHub(docs: TriggerDoc[], overrides: Partial<HubConfig> = {}): Promise<Hub> {
  const config = testConfig(overrides);
  const hub = await startHub({ config, log: pino({ level: config.logLevel }) });
  const { triggers, invalid } = parseTriggers(docs.map((doc) => stringify(doc)).join('---\n'), 'test');
  if (invalid.length > 0) {
    await hub.close();
    throw new Error(invalid.map((item) => item.error).join('\n'));
  }
  await hub.engine.apply(triggers);
  return hub;
}

export interface HubProcess {
  child: ChildProcess;
  url: string;
  output: () => string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

const cli = resolve(import.meta.dirname, '../../src/cli/main.ts');

/** Writes `docs` into a fresh triggers directory; returns its path. */
export function writeTriggerDir(docs: TriggerDoc[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'th-triggers-'));
  for (const [index, doc] of docs.entries())
    writeFileSync(join(dir, `trigger-${index}.yaml`), stringify(doc));
  return dir;
}

/** Runs the CLI once (e.g. `dlq list`) against the stack's Redis; resolves with its exit code and output. */
export function runCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [cli, ...args], {
    env: { ...process.env, REDIS_URL: redisUrl(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolveRun) => child.on('exit', (code) => resolveRun({ code, stdout, stderr })));
}

/**
 * Runs `trigger-hub run` as a child process on a triggers directory; resolves when it is listening. `entry`:
 * the CLI of another tree (e.g. a copy with a source added, test/integration/walkthrough/).
 */
export function spawnHub(
  triggersDir: string,
  port: number,
  env: NodeJS.ProcessEnv = {},
  entry = cli,
): Promise<HubProcess> {
  return spawnHubProcess(['--triggers', triggersDir], port, env, 60_000, entry);
}

/**
 * Runs `trigger-hub run <runArgs>` as a child process (files or `--kubernetes`); resolves once its Triggers
 * are applied. A cold start on a loaded 2-core box can take a while, hence the generous default.
 */
export async function spawnHubProcess(
  runArgs: string[],
  port: number,
  env: NodeJS.ProcessEnv = {},
  startTimeoutMs = 60_000,
  entry = cli,
): Promise<HubProcess> {
  const child = spawn(process.execPath, [entry, 'run', ...runArgs, '--port', String(port)], {
    // REDIS_URL: '' in `env` runs the hub on its own local redis-server (standalone default).
    env: {
      ...process.env,
      REDIS_URL: redisUrl(),
      LOG_LEVEL: 'info',
      TH_SHUTDOWN_DEADLINE_MS: '5000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolveExit) => child.on('exit', (code) => resolveExit(code)));
  const applied = () => output.includes('"triggers applied"');
  await waitFor(applied, startTimeoutMs, 'the hub to apply its Triggers', {
    intervalMs: 50,
    // A hub that applied its Triggers and then exited still started (the test looks at what came next).
    abort: () => (child.exitCode !== null && !applied() ? `it exited (${child.exitCode})` : undefined),
  }).catch(() => {
    child.kill('SIGKILL');
    throw new Error(`hub did not start within ${startTimeoutMs} ms:\n${output}`);
  });
  return { child, url: `http://127.0.0.1:${port}`, output: () => output, exited };
}
