#!/usr/bin/env node
// trigger-hub: run the hub, validate Trigger files, print the CRD, inspect and replay dead letters.
// Exit codes: 0 ok, 1 invalid input or a failed command, 2 usage error (commander).

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { configFromEnv } from '../config.ts';
import { startEchoFunction } from '../demo/echo-function.ts';
import { errorMessage } from '../errors.ts';
import { createLogger, startHub } from '../hub.ts';
import { deadLetterPage, openBackfillQueue, openQueue, replayDeadLetters } from '../queue/dead-letter.ts';
import { createRedis } from '../queue/redis.ts';
import { applyTriggerDirectory, watchTriggerDirectory } from '../standalone/trigger-directory.ts';
import { triggerCrdYaml } from '../trigger/crd.ts';
import { parseTriggers } from '../trigger/load.ts';
import { addCommands } from './commands/index.ts';

const program = new Command('trigger-hub')
  .description('Event-driven trigger hub: sensors → CloudEvents → durable queue → functions')
  .showHelpAfterError()
  // Usage errors (unknown option, missing argument) exit 2, as documented; --help and --version exit 0.
  // Subcommands created after this inherit it.
  .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2));

type RunOptions = {
  triggers?: string;
  port?: number;
  host?: string;
  demoEcho?: number;
  kubernetes?: string | true;
};

const output = () =>
  new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text');

program
  .command('run')
  .description('run the hub in standalone mode on the Trigger files of a directory')
  .option('-t, --triggers <dir>', 'directory of Trigger YAML files (TH_TRIGGERS_DIR)')
  .option('-p, --port <port>', 'HTTP port (TH_PORT)', (value) => Number(value))
  .option('--host <host>', 'HTTP bind address (TH_HOST)')
  .option('--demo-echo <port>', 'also start the demo echo function on this port', (value) => Number(value))
  .option('--kubernetes [namespaces]', 'controller mode: Trigger resources of the cluster (all or a,b,c)')
  .action(async (options: RunOptions) => {
    const config = configFromEnv();
    if (options.triggers) config.triggersDir = options.triggers;
    if (options.port !== undefined) config.port = options.port;
    if (options.host) config.host = options.host;
    const log = createLogger(config.logLevel);
    // TH_API_TOKEN_SECRET (no TH_API_TOKEN): the token from a Secret in the cluster, made on the first start.
    if (process.env.TH_API_TOKEN_SECRET)
      config.apiToken ??= await (await import('../controller/api-token-secret.ts')).apiTokenFromSecret(
        process.env,
        log,
      );
    const echo = options.demoEcho ? await startEchoFunction(options.demoEcho, log) : undefined;
    const hub = await startHub({ config, log });
    const stopWatching = options.kubernetes
      ? // Loaded only in controller mode: the Kubernetes client costs 80 MB of memory.
        await (await import('../controller/controller-mode.ts')).startControllerMode(
          hub,
          options.kubernetes,
          log,
        )
      : await applyTriggerDirectory(config.triggersDir, hub.engine, log).then(() =>
          watchTriggerDirectory(config.triggersDir, hub.engine, log),
        );
    let stopping = false;
    const shutdown = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info(
        { signal, deadlineMs: config.shutdownDeadlineMs },
        'shutting down: finishing in-flight deliveries',
      );
      await stopWatching();
      await hub.close();
      echo?.close();
      log.info('stopped');
      process.exit(0);
    };
    process.on('SIGTERM', () => void shutdown('SIGTERM'));
    process.on('SIGINT', () => void shutdown('SIGINT'));
  });

program
  .command('validate')
  .description('validate Trigger YAML files; prints every error with its file and field')
  .argument('<files...>')
  .addOption(output())
  .action(async (files: string[], options: { output: string }) => {
    const results: Array<{ origin: string; valid: boolean; trigger?: string; error?: string }> = [];
    for (const file of files) {
      try {
        const { triggers, invalid } = parseTriggers(await readFile(file, 'utf8'), file);
        results.push(
          ...triggers.map((item) => ({
            origin: item.origin,
            valid: true,
            trigger: `${item.trigger.metadata.namespace}/${item.trigger.metadata.name}`,
          })),
          ...invalid.map((item) => ({ origin: item.origin, valid: false, error: item.error })),
        );
      } catch (error) {
        results.push({ origin: file, valid: false, error: `${file}: ${errorMessage(error)}` });
      }
    }
    if (options.output === 'json') console.log(JSON.stringify(results, null, 2));
    else
      for (const result of results)
        console.log(
          result.valid ? `ok      ${result.origin} (${result.trigger})` : `INVALID ${result.error}`,
        );
    if (results.some((result) => !result.valid)) process.exitCode = 1;
  });

program
  .command('crd')
  .description('print the Trigger CustomResourceDefinition generated from the schema')
  .action(() => {
    process.stdout.write(triggerCrdYaml());
  });

/** REDIS_URL, or the socket of a standalone hub running from this directory. */
function redisForCli() {
  const config = configFromEnv();
  let url = config.redisUrl;
  const socket = resolve(config.dataDir, 'redis', 'redis.sock');
  if (!url && existsSync(socket)) url = `unix://${socket}`;
  if (!url)
    throw new Error('set REDIS_URL (or run this next to a standalone hub, which keeps its Redis in .data/)');
  return createRedis({ url }, 'producer');
}

const dlq = program.command('dlq').description("inspect and replay a trigger's dead-letter queue");

dlq
  .command('list')
  .argument('<trigger>', 'namespace/name (namespace defaults to "default")')
  .option('--limit <n>', 'entries to show', (value) => Number(value), 50)
  .option('--offset <n>', 'entries to skip', (value) => Number(value), 0)
  .option('--backfill', "what the trigger's backfills dead-lettered (kept apart from live events)")
  .addOption(output())
  .action(
    async (
      trigger: string,
      options: { limit: number; offset: number; backfill?: boolean; output: string },
    ) => {
      const redis = redisForCli();
      const key = triggerKey(trigger);
      const queue = options.backfill ? openBackfillQueue(key, redis) : openQueue(key, redis);
      try {
        const { count, entries } = await deadLetterPage(queue, options);
        if (options.output === 'json') console.log(JSON.stringify({ count, entries }, null, 2));
        else {
          console.log(`${count} dead-lettered event(s) in ${key}${options.backfill ? "'s backfills" : ''}`);
          for (const entry of entries) {
            const status = entry.lastAttempt?.status ?? '-';
            console.log(
              `${entry.jobId}\tattempts=${entry.attempts}\tstatus=${status}\t${entry.failedAt ?? ''}\t${entry.reason}`,
            );
          }
        }
      } finally {
        await queue.close();
        redis.disconnect();
      }
    },
  );

dlq
  .command('replay')
  .argument('<trigger>', 'namespace/name (namespace defaults to "default")')
  .option('--job <id...>', 'replay these job ids only')
  .option('--where <cel>', 'replay entries matching a CEL expression over event and entry')
  .option('--all', 'replay every entry')
  .option('--backfill', "replay what the trigger's backfills dead-lettered, into its live queue")
  .addOption(output())
  .action(
    async (
      trigger: string,
      options: { job?: string[]; where?: string; all?: boolean; backfill?: boolean; output: string },
    ) => {
      if (!options.job && !options.where && !options.all)
        throw new Error('say what to replay: --job <id>, --where <cel> or --all');
      const redis = redisForCli();
      const key = triggerKey(trigger);
      const live = openQueue(key, redis);
      const backfill = options.backfill ? openBackfillQueue(key, redis) : undefined;
      try {
        const replayed = await replayDeadLetters(
          backfill ?? live,
          {
            ...(options.job ? { jobIds: options.job } : {}),
            ...(options.where ? { where: options.where } : {}),
          },
          {
            ...(backfill ? { into: live } : {}),
            ...(options.output === 'text' ? { onProgress: replayProgress() } : {}),
          },
        );
        if (options.output === 'json') console.log(JSON.stringify({ replayed }));
        else console.log(`replayed ${replayed} event(s) of ${key}${backfill ? "'s backfills" : ''}`);
      } finally {
        await Promise.all([live.close(), backfill?.close()]);
        redis.disconnect();
      }
    },
  );

/** Progress of a long replay on stderr: a live counter on a terminal, a line per 1,000 in a log. */
function replayProgress(): (replayed: number, total?: number) => void {
  let lastLine = 0;
  return (replayed, total) => {
    const text = `replayed ${replayed}${total === undefined ? '' : ` of ${total}`}`;
    if (process.stderr.isTTY) process.stderr.write(`\r${text}${replayed === total ? '\n' : ''}`);
    else if (replayed - lastLine >= 1000 || replayed === total) {
      lastLine = replayed;
      process.stderr.write(`${text}\n`);
    }
  };
}

function triggerKey(name: string): string {
  return name.includes('/') ? name : `default/${name}`;
}

addCommands(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  console.error(`trigger-hub: ${errorMessage(error)}`);
  process.exit(1);
});
