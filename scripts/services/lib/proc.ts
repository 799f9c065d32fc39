import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { tail } from './exec.ts';
import { logDir, runDir } from './paths.ts';
import { waitFor } from './probe.ts';

/** What a pid file records about a process this script started. */
export interface PidRecord {
  pid: number;
  /** Kernel start time of the process (clock ticks since boot), so a recycled pid is never taken for ours. */
  startTicks?: number;
  command: string;
  port: number;
  log: string;
  startedAt: string;
}

export interface DaemonSpec {
  /** Pid file and log name, e.g. "redis" or "redis-cluster-7311". */
  id: string;
  command: string;
  args: string[];
  port: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

const pidPath = (id: string) => join(runDir, `${id}.pid`);
export const daemonLog = (id: string) => join(logDir, `${id}.log`);

/** Children spawned by this process, so a readiness wait can fail fast when one exits during start-up. */
const children = new Map<string, { child: ChildProcess; exit?: string }>();

function processStartTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime); the command name in field 2 may contain spaces, so count from its closing paren.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[19]);
  } catch {
    return undefined;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A zombie still answers to signal 0; it is not running.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return true;
  }
}

export function readPidFile(id: string): PidRecord | undefined {
  try {
    return JSON.parse(readFileSync(pidPath(id), 'utf8')) as PidRecord;
  } catch {
    return undefined;
  }
}

/** The process behind a pid file if it is still the one this script started, else undefined. */
export function liveDaemon(id: string): PidRecord | undefined {
  const rec = readPidFile(id);
  if (!rec || !isAlive(rec.pid)) return undefined;
  if (rec.startTicks !== undefined) {
    const now = processStartTicks(rec.pid);
    if (now !== undefined && now !== rec.startTicks) return undefined;
  }
  return rec;
}

/** If a daemon started by this process has already exited, how it ended. */
export function exitedEarly(id: string): string | undefined {
  return children.get(id)?.exit;
}

/**
 * Starts a long-running server in its own process group (so it outlives this script and can be stopped
 * as a group), with stdout and stderr appended to its log file, and records it in a pid file.
 */
export async function spawnDaemon(spec: DaemonSpec): Promise<PidRecord> {
  mkdirSync(runDir, { recursive: true });
  mkdirSync(logDir, { recursive: true });
  const log = daemonLog(spec.id);
  const fd = openSync(log, 'a');
  writeSync(fd, `\n=== ${new Date().toISOString()} ${spec.command} ${spec.args.join(' ')}\n`);
  const child = spawn(spec.command, spec.args, {
    cwd: spec.cwd,
    env: spec.env ?? process.env,
    detached: true,
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const entry: { child: ChildProcess; exit?: string } = { child };
  children.set(spec.id, entry);
  child.on('exit', (code, signal) => {
    entry.exit = signal ? `killed by ${signal}` : `exited with code ${code}`;
  });
  const pid = await new Promise<number>((resolve, reject) => {
    child.once('error', (err) => reject(new Error(`cannot start ${spec.command}: ${err.message}`)));
    child.once('spawn', () => resolve(child.pid!));
  });
  child.unref();
  const rec: PidRecord = {
    pid,
    startTicks: processStartTicks(pid),
    command: spec.command,
    port: spec.port,
    log,
    startedAt: new Date().toISOString(),
  };
  writeFileSync(pidPath(spec.id), `${JSON.stringify(rec)}\n`);
  return rec;
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/**
 * Stops a daemon this script started, by its pid file only: SIGTERM to its process group, then SIGKILL
 * after the grace period (kube-apiserver, for one, waits for in-flight requests far longer than tests want).
 * `first` = SIGKILL is a crash (the fault suite). Returns the pid that was stopped, if any.
 */
export async function stopDaemon(
  id: string,
  graceMs = 10_000,
  first: 'SIGTERM' | 'SIGKILL' = 'SIGTERM',
): Promise<number | undefined> {
  const rec = liveDaemon(id);
  if (rec) {
    signalGroup(rec.pid, first);
    const deadline = Date.now() + graceMs;
    while (isAlive(rec.pid) && Date.now() < deadline) await sleep(100);
    if (isAlive(rec.pid)) {
      signalGroup(rec.pid, 'SIGKILL');
      const killDeadline = Date.now() + 10_000;
      while (isAlive(rec.pid) && Date.now() < killDeadline) await sleep(50);
    }
  }
  rmSync(pidPath(id), { force: true });
  children.delete(id);
  return rec?.pid;
}

/**
 * Starts a daemon and waits until `ready` answers; if the process exits first, fails at once with the end
 * of its log.
 */
export async function launch(
  spec: DaemonSpec,
  ready: () => Promise<boolean>,
  timeoutMs = 60_000,
): Promise<PidRecord> {
  const rec = await spawnDaemon(spec);
  try {
    await waitFor(ready, timeoutMs, `${spec.id} (pid ${rec.pid}, port ${spec.port})`, {
      intervalMs: 250,
      abort: () => exitedEarly(spec.id) && `${exitedEarly(spec.id)} during start-up`,
    });
  } catch (err) {
    // A server that did not come up is not left behind half-started.
    await stopDaemon(spec.id, 2000);
    throw new Error(`${(err as Error).message}; last lines of ${rec.log}:\n${tail(rec.log)}`);
  }
  return rec;
}
