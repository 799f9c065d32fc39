// One system on one source: a fresh database, the system started, then the saturated and the fixed-rate run,
// each after a warm-up, with the CPU time and memory of the system's process (and of redis-server) around
// each; over several rounds, alternating which system goes first.

import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createBrokerSource } from './brokers.ts';
import { stop } from './children.ts';
import type { RunFigures, SystemFigures } from './figures.ts';
import { log } from './log.ts';
import { cpuMs, memoryMiB } from './proc-figures.ts';
import type { Settings, SourceName, SystemName } from './settings.ts';
import { flushDb, redisCounters, stackEnv, withDb } from './stack.ts';
import { medianOf, round } from './statistics.ts';
import { type System, startBaseline, startHub } from './systems.ts';

/** When each system's saturated run started and ended, and its process exited (to cut its CPU profile). */
export const runWindows = new Map<string, { startMs: number; endMs: number; exitMs?: number }>();

/** Where the bench runs: the stack's Redis (its pid, when local), the sink, the work dir for logs. */
export interface Bench {
  settings: Settings;
  redisBase: string;
  sinkUrl: string;
  redisPid: number | undefined;
  workDir: string;
}

async function measure(
  { settings, redisPid }: Bench,
  system: System,
  label: string,
  rate: number | undefined,
  first: boolean,
): Promise<RunFigures> {
  const { n, warmup, loadConcurrency } = settings;
  const pid = system.child.pid!;
  log(`${system.name}: warm-up ${warmup} events${rate ? ` at ${rate}/s` : ''}`);
  const warm = await system.load(`${system.name}-${label}-warmup`, {
    n: warmup,
    ...(rate ? { rate } : {}),
    ...(first ? { waitReadyS: 30 } : {}),
  });
  if (warm.lost || warm.timed_out)
    log(`${system.name}: warm-up lost ${warm.lost} (timed out: ${warm.timed_out})`);
  const startedAt = performance.now();
  const cpu0 = cpuMs(pid);
  const redis0 = redisPid ? cpuMs(redisPid) : 0;
  const counters0 = await redisCounters();
  log(
    `${system.name}: ${label} run, ${n} events${rate ? ` at ${rate}/s` : ` with concurrency ${loadConcurrency}`}`,
  );
  const result = await system.load(`${system.name}-${label}`, {
    n,
    ...(rate ? { rate } : {}),
  });
  const cpu = cpuMs(pid) - cpu0;
  if (label === 'saturated') runWindows.set(system.name, { startMs: startedAt, endMs: performance.now() });
  const redisCpu = redisPid ? cpuMs(redisPid) - redis0 : undefined;
  const counters = await redisCounters();
  const delivered = Math.max(1, result.accepted - result.lost);
  const figures: RunFigures = {
    eventsPerS: result.e2e_rate_per_s,
    p50Ms: result.latency_ms?.p50 ?? null,
    p90Ms: result.latency_ms?.p90 ?? null,
    p99Ms: result.latency_ms?.p99 ?? null,
    maxMs: result.latency_ms?.max ?? null,
    webhookP50Ms: result.webhook_ms.p50,
    webhookP99Ms: result.webhook_ms.p99,
    cpuMsPerEvent: round(cpu / delivered, 3),
    redisCpuMsPerEvent: redisCpu === undefined ? null : round(redisCpu / delivered, 3),
    redisCommandsPerEvent: round((counters.commands - counters0.commands) / delivered, 2),
    redisReadsPerEvent: round((counters.reads - counters0.reads) / delivered, 2),
    rssMiB: memoryMiB(pid).rss,
    lost: result.lost,
    duplicates: result.duplicates,
    notAccepted: n - result.accepted,
    timedOut: result.timed_out,
  };
  log(
    `${system.name}: ${label}: ${figures.eventsPerS} ev/s, p50 ${figures.p50Ms} ms, p99 ${figures.p99Ms} ms, ` +
      `${figures.cpuMsPerEvent} CPU ms/event, RSS ${figures.rssMiB} MiB, lost ${figures.lost}`,
  );
  return figures;
}

async function benchSystem(bench: Bench, name: SystemName, sourceName: SourceName): Promise<SystemFigures> {
  const { settings, workDir, sinkUrl } = bench;
  const redisUrl = withDb(bench.redisBase, settings.db);
  await flushDb(redisUrl); // a fresh database for each system under test
  const profileDir = settings.profile ? resolve(settings.profile, name) : undefined;
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  // A fresh topic / stream per system, so each starts on an empty one.
  const source = sourceName === 'webhook' ? undefined : await createBrokerSource(sourceName, stackEnv());
  const options = { settings, workDir, redisUrl, sinkUrl, profileDir, source };
  const system = name === 'hub' ? await startHub(options) : await startBaseline(options);
  try {
    await sleep(1000);
    const idleRssMiB = memoryMiB(system.child.pid!).rss;
    const saturated = await measure(bench, system, 'saturated', undefined, true);
    const rate = profileDir ? undefined : await measure(bench, system, 'rate', settings.rate, false);
    const peakRssMiB = memoryMiB(system.child.pid!).peak;
    return { saturated, ...(rate ? { rate } : {}), peakRssMiB, idleRssMiB, startupMs: system.startupMs };
  } finally {
    await stop(system.child);
    await source?.close();
    const window = runWindows.get(name);
    if (window) window.exitMs = performance.now();
  }
}

export type Results = Partial<Record<SystemName, SystemFigures>>;
export type Rounds = Partial<Record<SystemName, SystemFigures[]>>;

/** Every round of every system on one source; the medians, and each round's figures. */
export async function benchSource(
  bench: Bench,
  sourceName: SourceName,
): Promise<{ medians: Results; rounds: Rounds }> {
  const { systems, rounds: roundCount } = bench.settings;
  const perSystem: Rounds = {};
  for (let round = 0; round < roundCount; round++) {
    // Alternate the order, so neither system always runs on a warmer (or busier) machine.
    for (const name of round % 2 === 0 ? systems : [...systems].reverse()) {
      log(`${sourceName}${roundCount > 1 ? `, round ${round + 1}/${roundCount}` : ''}: ${name}`);
      const figures = await benchSystem(bench, name, sourceName);
      perSystem[name] = [...(perSystem[name] ?? []), figures];
    }
  }
  const medians: Results = {};
  for (const name of systems) medians[name] = medianOf(perSystem[name]!);
  return { medians, rounds: perSystem };
}
