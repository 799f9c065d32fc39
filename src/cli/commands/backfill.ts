// trigger-hub backfill <trigger> --from … : re-delivers a range of a trigger's source through the hub's API,
// printing progress until it ends; `backfill list` and `backfill cancel`. The backfill runs in the hub, so
// Ctrl-C (or a lost terminal) only stops watching it.

import type { Command } from 'commander';
import type { BackfillProgress } from '../../backfill/backfill.ts';
import { outputOption, requestJson, triggerKey, urlOption } from './hub-client.ts';
import { formatTable } from './status.ts';

const pollMs = 1000;

function backfillsPath(trigger: string): string {
  const [namespace, name] = triggerKey(trigger).split('/');
  return `/api/triggers/${encodeURIComponent(namespace!)}/${encodeURIComponent(name!)}/backfills`;
}

function duration(seconds: number | undefined): string {
  if (seconds === undefined) return '-';
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
}

/** One progress line: what a person watching a long backfill wants to see. */
export function progressLine(backfill: BackfillProgress): string {
  const total = backfill.estimate === undefined ? '' : ` of ~${backfill.estimate}`;
  if (backfill.dryRun)
    return `${backfill.id} ${backfill.status} (dry run): ${backfill.read}${total} records read, ${backfill.enqueued} would be delivered, ${backfill.filtered} filtered out`;
  const parts = [
    `${backfill.read}${total} read`,
    `${backfill.enqueued} enqueued`,
    `${backfill.delivered} delivered`,
    ...(backfill.deadLettered ? [`${backfill.deadLettered} dead-lettered`] : []),
    ...(backfill.status === 'running' ? [`ETA ${duration(backfill.etaSeconds)}`] : []),
  ];
  const reason = backfill.reason ? ` (${backfill.reason})` : '';
  return `${backfill.id} ${backfill.status}${reason}: ${parts.join(', ')}`;
}

export function addBackfillCommand(program: Command): void {
  const command = program
    .command('backfill')
    .description(
      "re-deliver a range of a trigger's source (Kafka, NATS JetStream, Kinesis) through a separate, rate-limited queue",
    )
    .argument('<trigger>', 'namespace/name (namespace defaults to "default")')
    .option('--from <time|position>', 'start: an ISO 8601 time or a source position (e.g. 0:1200,1:980)')
    .option('--to <time|position>', 'exclusive end (default: now)')
    .option('--rate <n>', 'deliveries per second (default 100)', (value) => Number(value))
    .option('--dry-run', 'count what would be delivered; deliver nothing')
    .option('--detach', 'start it and return at once')
    .addOption(urlOption())
    .addOption(outputOption())
    .action(
      async (
        trigger: string,
        options: {
          from?: string;
          to?: string;
          rate?: number;
          dryRun?: boolean;
          detach?: boolean;
          url: string;
          output: string;
        },
      ) => {
        if (!options.from) command.error("error: required option '--from <time|position>' not specified");
        const path = backfillsPath(trigger);
        const { backfill } = await requestJson<{ backfill: BackfillProgress }>(options.url, path, {
          method: 'POST',
          body: {
            from: options.from,
            ...(options.to ? { to: options.to } : {}),
            ...(options.rate === undefined ? {} : { rate: options.rate }),
            ...(options.dryRun ? { dryRun: true } : {}),
          },
          // Opening the range asks the source for offsets/sequences first.
          timeoutMs: 45_000,
        });
        const cancelHint = `trigger-hub backfill cancel ${triggerKey(trigger)} ${backfill.id}`;
        if (options.output === 'text')
          console.error(
            `backfill ${backfill.id} started; Ctrl-C stops watching (it keeps running); cancel: ${cancelHint}`,
          );
        if (options.detach) {
          console.log(options.output === 'json' ? JSON.stringify(backfill) : backfill.id);
          return;
        }
        process.once('SIGINT', () => {
          console.error(
            `\nstill running in the hub; watch: trigger-hub backfill list ${triggerKey(trigger)}; cancel: ${cancelHint}`,
          );
          process.exit(130);
        });
        let current = backfill;
        let last = '';
        for (;;) {
          const line = progressLine(current);
          if (options.output === 'text' && line !== last) console.log(line);
          last = line;
          if (current.status !== 'running') break;
          await new Promise((resolve) => setTimeout(resolve, pollMs));
          current = (await requestJson<{ backfill: BackfillProgress }>(options.url, `${path}/${current.id}`))
            .backfill;
        }
        if (options.output === 'json') console.log(JSON.stringify(current, null, 2));
        if (current.status !== 'completed') process.exitCode = 1;
      },
    );

  command
    .command('list')
    .description("a trigger's backfills, newest first")
    .argument('<trigger>', 'namespace/name')
    .action(async (trigger: string) => {
      // --url and -o belong to `backfill` and are recognized after the subcommand too.
      const options = command.opts<{ url: string; output: string }>();
      const { backfills } = await requestJson<{ backfills: BackfillProgress[] }>(
        options.url,
        backfillsPath(trigger),
      );
      if (options.output === 'json') return console.log(JSON.stringify(backfills, null, 2));
      const header = [
        'ID',
        'STATUS',
        'FROM',
        'TO',
        'RATE',
        'READ',
        'ENQUEUED',
        'DELIVERED',
        'ETA',
        'CREATED',
      ];
      const rows = backfills.map((item) => [
        item.id,
        item.dryRun ? `${item.status} (dry run)` : item.status,
        item.from,
        item.to,
        String(item.rate),
        String(item.read),
        String(item.enqueued),
        String(item.delivered),
        item.status === 'running' ? duration(item.etaSeconds) : '-',
        item.createdAt,
      ]);
      console.log(formatTable(header, rows, new Set([4, 5, 6, 7])));
    });

  command
    .command('cancel')
    .description('stop a running backfill and remove its undelivered events (deliveries in flight finish)')
    .argument('<trigger>', 'namespace/name')
    .argument('<id>', 'the backfill id (backfill list)')
    .action(async (trigger: string, id: string) => {
      const options = command.opts<{ url: string; output: string }>();
      const { backfill } = await requestJson<{ backfill: BackfillProgress }>(
        options.url,
        `${backfillsPath(trigger)}/${encodeURIComponent(id)}`,
        { method: 'DELETE' },
      );
      console.log(options.output === 'json' ? JSON.stringify(backfill, null, 2) : progressLine(backfill));
    });
}
