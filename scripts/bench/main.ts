// `npm run bench`: the hub end to end (webhook, Kafka and JetStream → queue → HTTP target) next to the bare
// BullMQ + undici baseline on the same source, both measured in the same run, on the service stack's real
// Redis, with the shared load harness (../shared/bench: sink.mjs and load.mjs, the harness the peer Argo Events
// was measured with; for Kafka and JetStream the load is produced by scripts/bench/brokers.ts instead of load.mjs).
//
// For each system: a fresh Redis database (FLUSHDB of a dedicated db index), the system as its own process
// delivering to one sink.mjs, then load.mjs runs the two standard runs, each after a 2,000-event warm-up:
// saturated (--n 20000 --concurrency 64) and fixed rate (--n 20000 --rate 1000). CPU time and RSS of the
// system's process (and of redis-server) come from /proc/<pid>/stat and /proc/<pid>/status around each run.
// The flags: scripts/bench/settings.ts. Output: a readable table and ONE JSON line (prefixed `BENCH_JSON `) on
// stdout; progress on stderr.
//
// The parts: settings.ts (flags), stack.ts (services, Redis), systems.ts (hub and baseline processes),
// load.ts (load.mjs or the broker producer), measure.ts (the runs and their figures), extras.ts (scaling and
// 1,000 triggers), statistics.ts, table.ts and report.ts (the output), children.ts (no process left behind).

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, httpOk, waitFor } from '../services/lib/probe.ts';
import { exited, killAll, killChildrenOnExit, openLog, stop, track } from './children.ts';
import { runExtras } from './extras.ts';
import { log } from './log.ts';
import { type Bench, benchSource, type Results, type Rounds } from './measure.ts';
import { printProfiles, printReport, summaryOf } from './report.ts';
import { readSettings, type SourceName } from './settings.ts';
import { runSourceBenches } from './sources.ts';
import { closeRedisCounters, ensureServices, redisServerPid } from './stack.ts';
import { round } from './statistics.ts';

async function main(): Promise<void> {
  const settings = readSettings();
  killChildrenOnExit(settings.maxS);
  const { harnessDir } = settings;
  for (const file of ['load.mjs', 'sink.mjs'])
    if (!existsSync(join(harnessDir, file)))
      throw new Error(`the shared harness is missing: ${join(harnessDir, file)}`);
  const redisBase = await ensureServices(settings.sources);
  const redisPid = await redisServerPid(redisBase);
  const workDir = mkdtempSync(join(tmpdir(), 'trigger-hub-bench-'));
  const loadBefore = round(loadavg()[0]!, 2);
  if (loadBefore > cpus().length / 2)
    log(`warning: load average ${loadBefore} on ${cpus().length} CPUs: other work will skew the figures`);
  log(`Redis ${redisBase} db ${settings.db}; logs in ${workDir}`);

  const sinkPort = await freePort();
  const sink = track(
    spawn(process.execPath, [join(harnessDir, 'sink.mjs'), '--port', String(sinkPort), '--quiet'], {
      stdio: ['ignore', openLog(workDir, 'sink.log'), openLog(workDir, 'sink.log')],
    }),
  );
  const bench: Bench = { settings, redisBase, sinkUrl: `http://127.0.0.1:${sinkPort}`, redisPid, workDir };
  let extrasOutput: string[] = [];
  const results: Partial<Record<SourceName, Results>> = {};
  const rounds: Partial<Record<SourceName, Rounds>> = {};
  try {
    await waitFor(() => httpOk(`${bench.sinkUrl}/health`), 10_000, 'sink', { abort: exited(sink) });
    for (const sourceName of settings.sources) {
      const source = await benchSource(bench, sourceName);
      results[sourceName] = source.medians;
      rounds[sourceName] = source.rounds;
    }
    // Scaling and many-trigger runs: printed after the main tables.
    extrasOutput = await runExtras(bench);
  } finally {
    await stop(sink, 2000);
    closeRedisCounters();
  }

  const loadAverage = { before: loadBefore, after: round(loadavg()[0]!, 2) };
  printReport(settings, summaryOf(settings, redisBase, loadAverage, results, rounds), results);

  for (const line of extrasOutput) console.log(line);

  if (settings.sourceBenches) {
    console.log('');
    const sources = await runSourceBenches(log);
    for (const result of sources) console.log(`SOURCE_JSON ${JSON.stringify(result)}`);
  }

  if (settings.profile) printProfiles(settings.profile);
  rmSync(workDir, { recursive: true, force: true });
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    log(`failed: ${(error as Error).stack ?? String(error)}`);
    killAll();
    process.exit(1);
  },
);
