import { spawn } from 'node:child_process';
import { accessSync, closeSync, constants, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { formatDuration, say } from './log.ts';

export interface RunOptions {
  /** Who is asking, for progress lines. */
  scope: string;
  /** What is being done, e.g. "building kube-apiserver", for progress lines. */
  label: string;
  /** Output is appended here; on failure its tail is part of the error. */
  log: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

const HEARTBEAT_MS = 30_000;

/** The last lines of a log file, for error messages. */
export function tail(file: string, lines = 25): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * Runs a command to completion with its output in a log file, printing a progress line every 30 s so a
 * 5-minute build does not look like a hang in CI.
 */
export function run(cmd: string, args: string[], opts: RunOptions): Promise<void> {
  mkdirSync(dirname(opts.log), { recursive: true });
  const fd = openSync(opts.log, 'a');
  writeSync(fd, `\n=== ${new Date().toISOString()} ${cmd} ${args.join(' ')}\n`);
  const t0 = Date.now();
  return new Promise<void>((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', fd, fd],
    });
    const beat = setInterval(() => {
      say(opts.scope, `still ${opts.label} (${formatDuration(Date.now() - t0)}; log ${opts.log})`);
    }, HEARTBEAT_MS);
    const finish = (err?: Error) => {
      clearInterval(beat);
      closeSync(fd);
      if (err) reject(err);
      else resolve();
    };
    child.on('error', (err) => finish(new Error(`${opts.label}: cannot run ${cmd}: ${err.message}`)));
    child.on('exit', (code, signal) => {
      if (code === 0) return finish();
      finish(
        new Error(
          `${opts.label} failed (${cmd} exited with ${signal ?? code}); last lines of ${opts.log}:\n${tail(opts.log)}`,
        ),
      );
    });
  });
}

/** The full path of an executable on PATH, or undefined. */
export function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}
