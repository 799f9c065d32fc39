// The two systems under test, each as its own process delivering to the sink: the hub (`trigger-hub run` on
// one Trigger) and the bare BullMQ + undici baseline (scripts/bench/baseline.ts).

import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { repoRoot } from '../services/lib/paths.ts';
import { freePort, waitFor } from '../services/lib/probe.ts';
import type { BrokerSource } from './brokers.ts';
import { exited, openLog, track } from './children.ts';
import { type Load, loadFor } from './load.ts';
import type { Settings, SystemName } from './settings.ts';

export interface System {
  name: SystemName;
  child: ChildProcess;
  /** Runs one load (load.mjs against the webhook, or the broker producer) and returns its figures. */
  load: Load;
  /** From spawn to ready (the hub: /readyz with its trigger running). */
  startupMs: number;
}

/** What a system is started with. */
export interface SystemOptions {
  settings: Settings;
  workDir: string;
  redisUrl: string;
  sinkUrl: string;
  /** `node --cpu-prof` into this directory. */
  profileDir?: string | undefined;
  /** A Kafka or JetStream source; none: the webhook. */
  source?: BrokerSource | undefined;
}

/** `node <args>` from the repository root, tracked; with `node --cpu-prof` into `profileDir` if given. */
function spawnNode(args: string[], profileDir: string | undefined, options: SpawnOptions): ChildProcess {
  const profile = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  return track(spawn(process.execPath, [...profile, ...args], { cwd: repoRoot, ...options }));
}

export async function startHub(
  { settings, workDir, redisUrl, sinkUrl, profileDir, source }: SystemOptions,
  /** Hubs given the same namespace run the same trigger (one Kafka consumer group). */
  namespace = `bench-${Date.now().toString(36)}`,
): Promise<System> {
  const triggersDir = mkdtempSync(join(workDir, 'triggers-'));
  writeFileSync(
    join(triggersDir, 'bench.yaml'),
    stringify({
      apiVersion: 'triggerhub.io/v1alpha1',
      kind: 'Trigger',
      metadata: { name: 'bench', namespace },
      spec: {
        source: source?.triggerSource ?? { webhook: {} },
        target: { http: { url: `${sinkUrl}/` } },
        delivery: { concurrency: settings.deliveryConcurrency },
      },
    }),
  );
  const port = await freePort();
  const spawnedAt = performance.now();
  const child = spawnNode(
    ['src/cli/main.ts', 'run', '--triggers', triggersDir, '--port', String(port)],
    profileDir,
    {
      env: {
        ...process.env,
        REDIS_URL: redisUrl,
        LOG_LEVEL: 'warn',
        TH_DATA_DIR: join(workDir, 'data'),
        TH_SHUTDOWN_DEADLINE_MS: '5000',
      },
      stdio: ['ignore', openLog(workDir, 'hub.log'), openLog(workDir, 'hub.log')],
    },
  );
  const base = `http://127.0.0.1:${port}`;
  const running = async () => {
    const response = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(2000) });
    const body = (await response.json()) as { triggers?: { running?: number } };
    return response.ok && (body.triggers?.running ?? 0) >= 1;
  };
  // Refused until it listens: keep asking.
  await waitFor(() => running().catch(() => false), 30_000, 'hub /readyz', { abort: exited(child) });
  return {
    name: 'hub',
    child,
    load: loadFor(settings, workDir, sinkUrl, `${base}/webhooks/${namespace}/bench`, source),
    startupMs: Math.round(performance.now() - spawnedAt),
  };
}

export async function startBaseline({
  settings,
  workDir,
  redisUrl,
  sinkUrl,
  profileDir,
  source,
}: SystemOptions): Promise<System> {
  const port = await freePort();
  const spawnedAt = performance.now();
  const child = spawnNode(
    [
      join(repoRoot, 'scripts/bench/baseline.ts'),
      '--redis',
      redisUrl,
      '--port',
      String(port),
      '--target',
      `${sinkUrl}/`,
      '--queue',
      `bench-baseline-${Date.now().toString(36)}`,
      '--concurrency',
      String(settings.deliveryConcurrency),
      ...(source?.baselineArgs ?? []),
    ],
    profileDir,
    { stdio: ['ignore', 'pipe', openLog(workDir, 'baseline.log')] },
  );
  let ready = false;
  child.stdout!.on('data', (chunk: Buffer) => {
    if (chunk.toString('utf8').includes('"ready":true')) ready = true;
  });
  await waitFor(() => ready, 30_000, 'baseline', { abort: exited(child) });
  return {
    name: 'baseline',
    child,
    load: loadFor(settings, workDir, sinkUrl, `http://127.0.0.1:${port}/events`, source),
    startupMs: Math.round(performance.now() - spawnedAt),
  };
}
