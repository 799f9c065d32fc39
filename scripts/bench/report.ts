// The report on stdout: a readable table per source, then ONE JSON line (prefixed `BENCH_JSON `), and with
// --profile the hot spots of each system's saturated run.

import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { type Results, type Rounds, runWindows } from './measure.ts';
import { peer, targets } from './peer.ts';
import { machineDescription } from './proc-figures.ts';
import { summarizeProfile } from './profile-summary.ts';
import type { Settings, SourceName } from './settings.ts';
import { ratio } from './statistics.ts';
import { table } from './table.ts';

const ratios = ({ hub, baseline }: Results) => ({
  eventsPerS: ratio(hub?.saturated.eventsPerS, baseline?.saturated.eventsPerS),
  saturatedP50: ratio(hub?.saturated.p50Ms, baseline?.saturated.p50Ms),
  saturatedP99: ratio(hub?.saturated.p99Ms, baseline?.saturated.p99Ms),
  rateP50: ratio(hub?.rate?.p50Ms, baseline?.rate?.p50Ms),
  rateP99: ratio(hub?.rate?.p99Ms, baseline?.rate?.p99Ms),
  cpuMsPerEvent: ratio(hub?.saturated.cpuMsPerEvent, baseline?.saturated.cpuMsPerEvent),
  peakRss: ratio(hub?.peakRssMiB, baseline?.peakRssMiB),
});

/** The machine, the settings and every figure: the BENCH_JSON line and the --out file. */
export function summaryOf(
  settings: Settings,
  redisBase: string,
  loadAverage: { before: number; after: number },
  results: Partial<Record<SourceName, Results>>,
  rounds: Partial<Record<SourceName, Rounds>>,
) {
  return {
    bench: 'trigger-hub',
    at: new Date().toISOString(),
    machine: machineDescription(),
    node: process.version,
    cpus: cpus().length,
    loadAverage,
    settings: {
      n: settings.n,
      warmup: settings.warmup,
      loadConcurrency: settings.loadConcurrency,
      rate: settings.rate,
      deliveryConcurrency: settings.deliveryConcurrency,
      redis: `${redisBase} db ${settings.db}`,
    },
    sources: Object.fromEntries(
      Object.entries(results).map(([name, figures]) => [name, { ...figures, ratio: ratios(figures) }]),
    ),
    ...(settings.rounds > 1 ? { rounds } : {}),
    peer,
    targets,
  };
}

/** The heading, one table per source, the BENCH_JSON line (and the --out file). */
export function printReport(
  settings: Settings,
  summary: ReturnType<typeof summaryOf>,
  results: Partial<Record<SourceName, Results>>,
): void {
  const { n, warmup, loadConcurrency, deliveryConcurrency, rounds } = settings;
  console.log('');
  console.log(`${summary.machine}; Node ${process.version}`);
  console.log(
    `${n} events per run after ${warmup} warm-up, load concurrency ${loadConcurrency}, delivery concurrency ` +
      `${deliveryConcurrency}${rounds > 1 ? `; medians of ${rounds} rounds` : ''}; load average ${summary.loadAverage.before} before, ${summary.loadAverage.after} after`,
  );
  for (const [name, figures] of Object.entries(results)) {
    console.log('');
    console.log(`${name} → HTTP sink`);
    console.log(table(figures, settings.rate));
  }
  console.log('');
  console.log(`BENCH_JSON ${JSON.stringify(summary)}`);
  if (settings.out) writeFileSync(settings.out, `${JSON.stringify(summary, null, 2)}\n`);
}

/** The latest CPU profile of each system in `profileRoot`, cut to its saturated run, and its hot spots. */
export function printProfiles(profileRoot: string): void {
  for (const name of ['baseline', 'hub']) {
    const dir = resolve(profileRoot, name);
    if (!existsSync(dir)) continue;
    const latest = readdirSync(dir)
      .filter((f) => f.endsWith('.cpuprofile'))
      .sort()
      .pop();
    if (!latest) continue;
    console.log('');
    console.log(`${name} CPU profile: ${join(dir, latest)}`);
    const window = runWindows.get(name);
    // The profile ends when the process exits: keep the samples of the saturated run only.
    const cut =
      window?.exitMs === undefined
        ? undefined
        : { fromEndMs: window.exitMs - window.startMs, toEndMs: window.exitMs - window.endMs };
    console.log(summarizeProfile(join(dir, latest), 30, cut));
  }
}
