// The fault suite's one table: each scenario appends its row to a results file; the global setup's teardown
// prints them all at the end of the run (and writes them as Markdown next to the results).

import { appendFileSync, existsSync, readFileSync } from 'node:fs';

export interface ScenarioRow {
  scenario: string;
  produced: number;
  delivered: number;
  lost: number;
  duplicated: number;
  /** From the end of the fault until every event produced before then was delivered. */
  recoverMs: number;
}

export function recordRow(row: ScenarioRow): void {
  const file = process.env.TH_FAULT_RESULTS;
  if (!file) throw new Error('TH_FAULT_RESULTS is not set: run the fault suite with `npm run test:faults`');
  appendFileSync(file, `${JSON.stringify(row)}\n`);
}

export function formatTable(rows: ScenarioRow[]): string {
  const header = ['scenario', 'produced', 'delivered', 'lost', 'duplicated', 'time to recover'];
  const cells = rows.map((r) => [
    r.scenario,
    String(r.produced),
    String(r.delivered),
    String(r.lost),
    String(r.duplicated),
    `${(r.recoverMs / 1000).toFixed(1)} s`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) =>
    `| ${c.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join(' | ')} |`;
  const rule = `| ${widths.map((w, i) => (i === 0 ? '-'.repeat(w) : `${'-'.repeat(w - 1)}:`)).join(' | ')} |`;
  return [line(header), rule, ...cells.map(line)].join('\n');
}

export function printTable(file: string): void {
  if (!existsSync(file)) {
    console.log('\nfault suite: no scenario finished\n');
    return;
  }
  const rows = readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as ScenarioRow);
  console.log(`\nFault suite (lost must be 0 in every row):\n\n${formatTable(rows)}\n`);
}
