import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { serialInstall } from './lib/install.ts';
import { formatDuration, say } from './lib/log.ts';
import { dataDir, envFile } from './lib/paths.ts';
import { tcpOpen, waitFor } from './lib/probe.ts';
import { isAlive, liveDaemon, type PidRecord, stopDaemon } from './lib/proc.ts';
import { resolveServices, SERVICES } from './registry.ts';
import type { Service } from './service.ts';

export interface UpResult {
  started: string[];
  alreadyUp: string[];
  failed: { name: string; error: string }[];
  /** Settings of every service that is running now (not only the ones asked for). */
  env: Record<string, string>;
}

export interface ServiceStatus {
  name: string;
  summary: string;
  state: 'up' | 'down' | 'not answering' | 'partly running';
  procs: { id: string; port: number; pid?: number }[];
}

/** One `up`/`down` at a time per clone (e.g. a terminal and a vitest global setup). */
async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  mkdirSync(dataDir, { recursive: true });
  const lock = join(dataDir, 'lock');
  let told = false;
  for (;;) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let holder: number;
      let age: number;
      try {
        holder = Number(readFileSync(lock, 'utf8').trim());
        age = Date.now() - statSync(lock).mtimeMs;
      } catch {
        continue; // released meanwhile
      }
      // An empty lock may be one being written this instant; only an old one is abandoned.
      if ((!holder && age > 5000) || (holder && !isAlive(holder))) {
        rmSync(lock, { force: true });
        continue;
      }
      if (!holder) {
        await sleep(100);
        continue;
      }
      if (!told) say('services', `waiting for another services command to finish (pid ${holder})`);
      told = true;
      await sleep(500);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

const liveProcs = (svc: Service) => svc.procs.map((p) => liveDaemon(p.id));
const allLive = (svc: Service) => liveProcs(svc).every((r): r is PidRecord => r !== undefined);

async function stopService(svc: Service): Promise<number[]> {
  const pids = await Promise.all(svc.procs.map((p) => stopDaemon(p.id, svc.stopGraceMs)));
  return pids.filter((p): p is number => p !== undefined);
}

async function ensurePortsFree(svc: Service): Promise<void> {
  for (const proc of svc.procs) {
    for (const port of proc.ports) {
      if (await tcpOpen(port, 500)) {
        throw new Error(
          `port ${port} is in use by a process this script did not start (no live pid file in ${join(dataDir, 'run')}); ` +
            'stop that process or free the port',
        );
      }
    }
  }
}

/** Whether the service must be started: false if it already answers; leftovers of it are stopped. */
async function needsStart(svc: Service): Promise<boolean> {
  if (allLive(svc)) {
    if (await svc.ready()) return false;
    try {
      await waitFor(svc.ready, 15_000, `${svc.name} to answer`, { intervalMs: 250 });
      return false;
    } catch {
      say(svc.name, 'running but not answering; restarting it');
    }
  }
  await stopService(svc);
  // Checked before a long install, not after it.
  await ensurePortsFree(svc);
  return true;
}

async function startWhenReady(
  svc: Service,
  installed: Promise<void>,
  pending: Map<string, Promise<unknown>>,
): Promise<void> {
  await installed;
  for (const dep of svc.dependsOn) {
    try {
      await pending.get(dep);
    } catch {
      throw new Error(`${dep} (which it needs) did not come up`);
    }
  }
  const t0 = Date.now();
  say(svc.name, `starting (${svc.summary})`);
  await svc.start();
  say(svc.name, `up in ${formatDuration(Date.now() - t0)}`);
}

/** Settings of every service whose processes are all running. */
export function runningEnv(): Record<string, string> {
  return Object.assign({}, ...SERVICES.filter(allLive).map((s) => s.env()));
}

function writeEnvFile(): Record<string, string> {
  const env = runningEnv();
  mkdirSync(dataDir, { recursive: true });
  // Replaced whole, so a test reading it concurrently never sees half a file.
  writeFileSync(`${envFile}.tmp`, `${JSON.stringify(env, null, 2)}\n`);
  renameSync(`${envFile}.tmp`, envFile);
  return env;
}

/**
 * Brings the named services (none: all) up: for each, install if missing (cached), start on the
 * project's port, wait until it answers. Idempotent: a service that already answers is left alone.
 * Services start as soon as their own install is done, so quick ones serve while long builds run.
 */
export function up(names: string[] = []): Promise<UpResult> {
  return withLock(async () => {
    const services = resolveServices(names, true);
    const t0 = Date.now();
    const result: UpResult = { started: [], alreadyUp: [], failed: [], env: {} };
    const fail = (name: string, err: unknown) => {
      const error = (err as Error).message;
      result.failed.push({ name, error });
      say(name, `FAILED: ${error}`);
    };
    const checks = await Promise.allSettled(services.map(needsStart));
    // Installs are queued in registry order (quick ones first); each service starts once its own is done.
    const pending = new Map<string, Promise<void>>();
    services.forEach((svc, i) => {
      const check = checks[i]!;
      let p: Promise<void>;
      if (check.status === 'rejected') p = Promise.reject(check.reason);
      else if (!check.value) p = Promise.resolve();
      else
        p = startWhenReady(
          svc,
          serialInstall(() => svc.install()),
          pending,
        );
      // Awaited in order below; until then a failure must not count as an unhandled rejection.
      p.catch(() => undefined);
      pending.set(svc.name, p);
    });
    for (const [i, svc] of services.entries()) {
      const check = checks[i]!;
      try {
        await pending.get(svc.name);
        if (check.status === 'fulfilled' && check.value) result.started.push(svc.name);
        else result.alreadyUp.push(svc.name);
      } catch (err) {
        fail(svc.name, err);
      }
    }
    result.env = writeEnvFile();
    const summary = [
      result.started.length ? `started ${result.started.join(', ')}` : '',
      result.alreadyUp.length ? `already up: ${result.alreadyUp.join(', ')}` : '',
      result.failed.length ? `FAILED: ${result.failed.map((f) => f.name).join(', ')}` : '',
    ].filter(Boolean);
    say('services', `${summary.join('; ')} (${formatDuration(Date.now() - t0)}); settings in ${envFile}`);
    return result;
  });
}

/** Installs the named services (none: all) without starting them: to warm a cache, or to time a cold one. */
export async function install(names: string[] = []): Promise<string[]> {
  const failed: string[] = [];
  for (const svc of resolveServices(names, true)) {
    const t0 = Date.now();
    try {
      await serialInstall(() => svc.install());
      say(svc.name, `installed (${formatDuration(Date.now() - t0)})`);
    } catch (err) {
      say(svc.name, `FAILED: ${(err as Error).message}`);
      failed.push(svc.name);
    }
  }
  return failed;
}

/** Stops the named services (none: all), only through their pid files, dependents first. */
export function down(names: string[] = []): Promise<string[]> {
  return withLock(async () => {
    const stopped: string[] = [];
    for (const svc of resolveServices(names, false).reverse()) {
      const pids = await stopService(svc);
      if (pids.length) {
        say(svc.name, `stopped (pid ${pids.join(', ')})`);
        stopped.push(svc.name);
      }
    }
    writeEnvFile();
    return stopped;
  });
}

export async function status(names: string[] = []): Promise<ServiceStatus[]> {
  return Promise.all(
    resolveServices(names, false).map(async (svc) => {
      const live = liveProcs(svc);
      const running = live.filter(Boolean).length;
      let state: ServiceStatus['state'] = 'down';
      if (running === svc.procs.length) state = (await svc.ready()) ? 'up' : 'not answering';
      else if (running > 0) state = 'partly running';
      return {
        name: svc.name,
        summary: svc.summary,
        state,
        procs: svc.procs.map((p, i) => ({ id: p.id, port: p.port, pid: live[i]?.pid })),
      };
    }),
  );
}
