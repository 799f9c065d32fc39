// The load of one run: the shared harness's load.mjs against a webhook URL, or the broker producer of
// scripts/bench/brokers.ts; either way the sink (sink.mjs) reports what arrived.

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../services/lib/paths.ts';
import type { BrokerSource, LoadResult } from './brokers.ts';
import { exitOf, openLog, track } from './children.ts';
import type { Settings } from './settings.ts';

/** How long load.mjs waits for the sink to see every event of a run. */
export const LOAD_TIMEOUT_S = 180;

export interface LoadOptions {
  n: number;
  rate?: number;
  waitReadyS?: number;
}

/** Runs one load and returns its figures. */
export type Load = (label: string, options: LoadOptions) => Promise<LoadResult>;

/** Each broker load run gets its own run id at the sink. */
export const runLabel = (label: string) => `${label}-${Date.now().toString(36)}`;

/** The load of one system: load.mjs against its webhook URL, or the broker producer of `source`. */
export function loadFor(
  settings: Settings,
  workDir: string,
  sinkUrl: string,
  webhookUrl: string,
  source: BrokerSource | undefined,
): Load {
  if (!source) return (label, options) => runLoad(settings, workDir, label, webhookUrl, sinkUrl, options);
  return (label, options) => source.load(runLabel(label), sinkUrl, { ...options, timeoutS: LOAD_TIMEOUT_S });
}

async function runLoad(
  settings: Settings,
  workDir: string,
  label: string,
  url: string,
  sink: string,
  options: LoadOptions,
): Promise<LoadResult> {
  const loadArgs = [
    join(settings.harnessDir, 'load.mjs'),
    '--url',
    url,
    '--sink',
    sink,
    '--n',
    String(options.n),
    '--concurrency',
    String(settings.loadConcurrency),
    '--timeout-s',
    String(LOAD_TIMEOUT_S),
    '--label',
    label,
  ];
  if (options.rate) loadArgs.push('--rate', String(options.rate));
  if (options.waitReadyS) loadArgs.push('--wait-ready-s', String(options.waitReadyS));
  const child = track(
    spawn(process.execPath, loadArgs, {
      cwd: repoRoot, // load.mjs takes undici from the project's node_modules
      stdio: ['ignore', 'pipe', settings.verbose ? 'inherit' : openLog(workDir, `load-${label}.log`)],
    }),
  );
  let stdout = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  const code = await exitOf(child, (LOAD_TIMEOUT_S + 90) * 1000);
  const line = stdout.trim().split('\n').pop() ?? '';
  let result: LoadResult;
  try {
    result = JSON.parse(line) as LoadResult;
  } catch {
    throw new Error(`load.mjs (${label}) exited ${code} without a result; see ${workDir}/load-${label}.log`);
  }
  if (result.error) throw new Error(`load.mjs (${label}): ${result.error}`);
  return result;
}
