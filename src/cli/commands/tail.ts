// trigger-hub tail <trigger>: follows a trigger's events live from its queue's BullMQ event stream
// (QueueEvents, read-only): enqueued, delivered, retrying, dead-lettered, replayed. Reads Redis like the
// `dlq` commands. Text lines, or one JSON object per line with --output json.

import { QueueEvents } from 'bullmq';
import type { Command } from 'commander';
import { fromJobId } from '../../envelope/ids.ts';
import { openQueue } from '../../queue/dead-letter.ts';
import { keyPrefix, queueName } from '../../queue/keys.ts';
import { outputOption, redisForCli, triggerKey } from './hub-client.ts';

export interface TailLine {
  time: string;
  trigger: string;
  event: 'enqueued' | 'delivered' | 'retrying' | 'dead-lettered' | 'replayed';
  id: string;
  type?: string;
  subject?: string;
  status?: number;
  durationMs?: number;
  reason?: string;
  retryAt?: string;
}

function formatLine(line: TailLine): string {
  const detail =
    line.event === 'enqueued'
      ? [line.type, line.subject].filter(Boolean).join(' ')
      : line.event === 'delivered'
        ? `HTTP ${line.status ?? '?'}${line.durationMs !== undefined ? ` in ${line.durationMs} ms` : ''}`
        : line.event === 'retrying'
          ? `next attempt at ${line.retryAt}`
          : line.event === 'dead-lettered'
            ? (line.reason ?? '')
            : '';
  return `${line.time}  ${line.event.padEnd(13)}  ${line.id}  ${detail}`.trimEnd();
}

function parseResult(value: unknown): { status?: number; durationMs?: number } {
  if (typeof value === 'string') {
    try {
      return JSON.parse(value) as { status?: number; durationMs?: number };
    } catch {
      return {};
    }
  }
  return (value ?? {}) as { status?: number; durationMs?: number };
}

export function addTailCommand(program: Command): void {
  program
    .command('tail')
    .description("follow a trigger's events live: enqueued, delivered, retrying, dead-lettered, replayed")
    .argument('<trigger>', 'namespace/name (namespace defaults to "default")')
    .option('-n, --max-events <n>', 'exit after this many lines', (value) => Number(value))
    .addOption(outputOption())
    .action(async (trigger: string, options: { maxEvents?: number; output: string }) => {
      const key = triggerKey(trigger);
      // Both connections queue commands until Redis answers (a CLI run starts before the connection is up).
      const redis = redisForCli('worker');
      const blocking = redisForCli('worker');
      const queue = openQueue(key, redis);
      // Start right after the newest entry of the event stream, so nothing between this read and the
      // first blocking read is missed (BullMQ's default, "$", would skip it).
      const newest = await redis.xrevrange(queue.keys.events!, '+', '-', 'COUNT', 1);
      const events = new QueueEvents(queueName({ key }), {
        connection: blocking,
        prefix: keyPrefix,
        lastEventId: newest[0]?.[0] ?? '0',
        autorun: false,
      });
      events.on('error', () => {});
      let printed = 0;
      let finish: () => void = () => {};
      const finished = new Promise<void>((resolveFinished) => {
        finish = resolveFinished;
      });
      const print = (line: TailLine) => {
        if (options.maxEvents !== undefined && printed >= options.maxEvents) return;
        console.log(options.output === 'json' ? JSON.stringify(line) : formatLine(line));
        printed++;
        if (options.maxEvents !== undefined && printed >= options.maxEvents) finish();
      };
      const base = (jobId: string, event: TailLine['event']): TailLine => ({
        time: new Date().toISOString(),
        trigger: key,
        event,
        id: fromJobId(jobId),
      });
      // Handlers run one after another, so lines come out in stream order even when one looks up its job.
      let chain = Promise.resolve();
      const inOrder = (work: () => Promise<void> | void) => {
        chain = chain.then(work).catch(() => {});
      };
      events.on('added', ({ jobId }) =>
        inOrder(async () => {
          const job = await queue.getJob(jobId).catch(() => undefined);
          const event = job?.data.event;
          print({
            ...base(jobId, 'enqueued'),
            ...(event?.type ? { type: event.type } : {}),
            ...(event?.subject ? { subject: event.subject } : {}),
          });
        }),
      );
      events.on('completed', ({ jobId, returnvalue }) =>
        inOrder(() => {
          const result = parseResult(returnvalue);
          print({
            ...base(jobId, 'delivered'),
            ...(result.status !== undefined ? { status: result.status } : {}),
            ...(result.durationMs !== undefined ? { durationMs: result.durationMs } : {}),
          });
        }),
      );
      events.on('delayed', ({ jobId, delay }) =>
        inOrder(() => print({ ...base(jobId, 'retrying'), retryAt: new Date(Number(delay)).toISOString() })),
      );
      events.on('failed', ({ jobId, failedReason }) =>
        inOrder(() => print({ ...base(jobId, 'dead-lettered'), reason: failedReason })),
      );
      events.on('waiting', ({ jobId, prev }) =>
        inOrder(() => {
          if (prev === 'failed') print(base(jobId, 'replayed'));
        }),
      );
      void events.run();
      await events.waitUntilReady();
      console.error(`following ${key} (Ctrl-C to stop)`);
      process.once('SIGINT', finish);
      process.once('SIGTERM', finish);
      await finished;
      await chain;
      await events.close().catch(() => {});
      await queue.close().catch(() => {});
      redis.disconnect();
      blocking.disconnect();
    });
}
