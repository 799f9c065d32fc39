// trigger-hub status: a table of a running hub's triggers with their counters, read from its HTTP API
// (/api/triggers for state and queue counts; the dashboard's /dashboard/api/triggers adds live rates when
// it answers). Exit 1 when the hub cannot be asked, or when any trigger is not running.

import type { Command } from 'commander';
import type { TriggerListing } from '../../server/trigger-listing.ts';
import { getJson, outputOption, urlOption } from './hub-client.ts';

interface ApiTrigger extends TriggerListing {
  queue?: Record<string, number>;
}

interface DashboardTrigger {
  key: string;
  stats: { qps: number; failureRate: number; totals: { delivered: number; deadLettered: number } };
}

export interface StatusRow extends ApiTrigger {
  live?: DashboardTrigger['stats'];
}

export async function fetchStatus(url: string): Promise<StatusRow[]> {
  const { triggers } = await getJson<{ triggers: ApiTrigger[] }>(url, '/api/triggers');
  const live = await getJson<{ triggers: DashboardTrigger[] }>(url, '/dashboard/api/triggers').catch(
    () => undefined,
  );
  const stats = new Map(live?.triggers.map((trigger) => [trigger.key, trigger.stats]));
  return triggers.map((trigger) => ({
    ...trigger,
    ...(stats.has(trigger.key) ? { live: stats.get(trigger.key)! } : {}),
  }));
}

/** Left-aligned text, right-aligned numbers, two spaces between columns. */
export function formatTable(header: string[], rows: string[][], numeric: Set<number>): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) =>
        numeric.has(column) ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!),
      )
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

function stateOf(row: StatusRow): string {
  if (row.state !== 'running') return row.state;
  return row.health && !row.health.connected ? 'disconnected' : 'running';
}

export function statusTable(rows: StatusRow[]): string {
  const count = (row: StatusRow, state: string) => (row.queue ? String(row.queue[state] ?? 0) : '-');
  const header = [
    'TRIGGER',
    'SOURCE',
    'STATE',
    'WAITING',
    'ACTIVE',
    'DELAYED',
    'DEAD',
    'DONE/1H',
    'QPS',
    'FAIL%',
    'TARGET',
  ];
  const table = rows.map((row) => [
    row.key,
    row.source ?? '-',
    stateOf(row),
    count(row, 'waiting'),
    count(row, 'active'),
    count(row, 'delayed'),
    count(row, 'failed'),
    count(row, 'completed'),
    row.live ? row.live.qps.toFixed(2) : '-',
    row.live ? (row.live.failureRate * 100).toFixed(1) : '-',
    row.target ?? '-',
  ]);
  const errors = rows
    .filter((row) => row.error || (row.health && !row.health.connected && row.health.message))
    .map((row) => `${row.key}: ${row.error ?? row.health?.message}`);
  return [
    formatTable(header, table, new Set([3, 4, 5, 6, 7, 8, 9])),
    ...(errors.length ? ['', ...errors] : []),
  ].join('\n');
}

export function addStatusCommand(program: Command): void {
  program
    .command('status')
    .description(
      "a running hub's triggers with their queue counters (HTTP API; token from TH_API_TOKEN); exit 1 if any is not running",
    )
    .addOption(urlOption())
    .addOption(outputOption())
    .action(async (options: { url: string; output: string }) => {
      const rows = await fetchStatus(options.url);
      if (options.output === 'json')
        console.log(JSON.stringify({ url: options.url, triggers: rows }, null, 2));
      else if (rows.length === 0) console.log(`no triggers on ${options.url}`);
      else console.log(statusTable(rows));
      if (rows.some((row) => row.state !== 'running')) process.exitCode = 1;
    });
}
