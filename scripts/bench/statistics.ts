// Rounding, medians over rounds and hub/baseline ratios.

import type { RunFigures, SystemFigures } from './figures.ts';

export function round(value: number, digits: number): number {
  const m = 10 ** digits;
  return Math.round(value * m) / m;
}

export function median(values: Array<number | null>): number | null {
  const sorted = values.filter((v): v is number => v !== null).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : round((sorted[mid - 1]! + sorted[mid]!) / 2, 3);
}

/** Several rounds of one system: the median of each figure; losses and duplicates add up. */
export function medianOf(list: SystemFigures[]): SystemFigures {
  if (list.length === 1) return list[0]!;
  const run = (runs: RunFigures[]): RunFigures => {
    const out = { ...runs[0]! } as Record<string, unknown>;
    for (const key of Object.keys(out) as Array<keyof RunFigures>) {
      if (key === 'lost' || key === 'duplicates' || key === 'notAccepted')
        out[key] = runs.reduce((sum, r) => sum + r[key], 0);
      else if (key === 'timedOut') out[key] = runs.some((r) => r.timedOut);
      else out[key] = median(runs.map((r) => r[key] as number | null));
    }
    return out as unknown as RunFigures;
  };
  const rates = list.flatMap((f) => (f.rate ? [f.rate] : []));
  return {
    saturated: run(list.map((f) => f.saturated)),
    ...(rates.length ? { rate: run(rates) } : {}),
    peakRssMiB: median(list.map((f) => f.peakRssMiB))!,
    idleRssMiB: median(list.map((f) => f.idleRssMiB))!,
    startupMs: median(list.map((f) => f.startupMs))!,
  };
}

export function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  return a == null || b == null || b === 0 ? null : round(a / b, 2);
}
