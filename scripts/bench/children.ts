// The bench's child processes (the systems under test, the sink, the load): every one is tracked and killed
// on any way out (normal end, error, signal, watchdog), so a failed run leaves no hub or sink behind.

import type { ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';
import { join } from 'node:path';
import { log } from './log.ts';

const children = new Set<ChildProcess>();

export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

export function killAll(): void {
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Kills every tracked child when this process ends, on a signal, or after `maxS` seconds (the watchdog). */
export function killChildrenOnExit(maxS: number): void {
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
    process.on(signal, () => {
      log(`${signal}: stopping`);
      killAll();
      process.exit(130);
    });
  const watchdog = setTimeout(() => {
    log(`gave up after ${maxS} s (--max-s)`);
    killAll();
    process.exit(1);
  }, maxS * 1000);
  watchdog.unref();
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export async function stop(child: ChildProcess, graceMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Resolves with the exit code; SIGKILLs the process if it runs longer than `timeoutMs`. */
export function exitOf(child: ChildProcess, timeoutMs: number): Promise<number | null> {
  return new Promise((done) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      done(code);
    });
  });
}

/** For `waitFor`'s abort: the wait ends at once when the process has exited. */
export function exited(child: ChildProcess): () => string | undefined {
  return () =>
    child.exitCode !== null || child.signalCode !== null
      ? `the process exited (${child.exitCode ?? child.signalCode})`
      : undefined;
}

/** A log file in the work dir, as an fd for a child's stdio. */
export function openLog(dir: string, name: string): number {
  return openSync(join(dir, name), 'a');
}
