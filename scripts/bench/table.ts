// The readable tables of the report: hub, baseline, their ratio and the peer, one row per figure.

import type { SystemFigures } from './figures.ts';
import type { Results } from './measure.ts';
import { peer } from './peer.ts';
import { ratio } from './statistics.ts';

/** Columns padded to their widest cell: the first left-aligned, the others right-aligned. */
export function alignRows(lines: string[][]): string {
  const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  return lines
    .map((l) =>
      l.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '),
    )
    .join('\n');
}

/** One source's table; `rate` is the fixed rate's events/s, named in its rows. */
export function table(results: Results, rate: number): string {
  const { hub, baseline } = results;
  const rows: Array<[string, (f: SystemFigures) => number | null | undefined, string]> = [
    ['saturated: events/s', (f) => f.saturated.eventsPerS, `${peer.eventsPerS.min}–${peer.eventsPerS.max}`],
    ['saturated: p50 ms', (f) => f.saturated.p50Ms, ''],
    ['saturated: p99 ms', (f) => f.saturated.p99Ms, ''],
    ['saturated: CPU ms/event', (f) => f.saturated.cpuMsPerEvent, String(peer.cpuMsPerEvent)],
    ['saturated: Redis CPU ms/event', (f) => f.saturated.redisCpuMsPerEvent, ''],
    ['saturated: Redis commands/event', (f) => f.saturated.redisCommandsPerEvent, ''],
    ['saturated: Redis socket reads/event', (f) => f.saturated.redisReadsPerEvent, ''],
    [`${rate}/s: events/s`, (f) => f.rate?.eventsPerS, ''],
    [`${rate}/s: p50 added ms`, (f) => f.rate?.p50Ms, String(peer.rate1000.p50Ms)],
    [`${rate}/s: p99 added ms`, (f) => f.rate?.p99Ms, String(peer.rate1000.p99Ms)],
    [`${rate}/s: CPU ms/event`, (f) => f.rate?.cpuMsPerEvent, ''],
    [`${rate}/s: Redis CPU ms/event`, (f) => f.rate?.redisCpuMsPerEvent, ''],
    ['RSS after runs MiB', (f) => f.rate?.rssMiB ?? f.saturated.rssMiB, ''],
    ['RSS idle (ready, before load) MiB', (f) => f.idleRssMiB, ''],
    ['peak RSS MiB', (f) => f.peakRssMiB, ''],
    ['start-up to ready ms', (f) => f.startupMs, ''],
    ['lost / duplicates', () => null, '(by default: 503s)'],
  ];
  const fmt = (v: number | null | undefined) => (v == null ? '-' : String(v));
  const lines = [['', 'hub', 'baseline', 'hub/baseline', 'peer (Argo)']];
  for (const [label, get, peerValue] of rows) {
    if (label === 'lost / duplicates') {
      const ld = (f?: SystemFigures) =>
        f
          ? `${f.saturated.lost + (f.rate?.lost ?? 0)} / ${f.saturated.duplicates + (f.rate?.duplicates ?? 0)}`
          : '-';
      lines.push([label, ld(hub), ld(baseline), '', peerValue]);
      continue;
    }
    const h = hub ? get(hub) : undefined;
    const b = baseline ? get(baseline) : undefined;
    lines.push([label, fmt(h), fmt(b), fmt(ratio(h, b)), peerValue]);
  }
  return alignRows(lines);
}
