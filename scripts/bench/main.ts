// `npm run bench`: the hub end to end (webhook, Kafka and JetStream → queue → HTTP target) next to the bare
// BullMQ + undici baseline on the same source, both measured in the same run, on the service stack's real
// Redis, with the shared load harness (../shared/bench: sink.mjs and load.mjs, the harness the peer Argo Events
// was measured with; for Kafka and JetStream the load is produced by scripts/bench/brokers.ts instead of load.mjs).
//
// For each system: a fresh Redis database (FLUSHDB of a dedicated db index), the system as its own process
// delivering to one sink.mjs, then load.mjs runs the two standard runs, each after a 2,000-event warm-up:
// saturated (--n 20000 --concurrency 64) and fixed rate (--n 20000 --rate 1000). CPU time and RSS of the
// system's process (and of redis-server) come from /proc/<pid>/stat and /proc/<pid>/status around each run.
//
//   npm run bench -- [--source webhook,kafka,jetstream] [--sources] [--only hub|baseline] [--n 20000] [--warmup 2000] [--rate 1000] [--concurrency 64]
//                    [--delivery-concurrency 64] [--db 9] [--rounds 1] [--profile DIR] [--out FILE] [--verbose]
//                    [--harness DIR] [--max-s S]
//
// --source: which sources to run (default all three); --sources adds the Kinesis → function and ingest-only
// benches of sensors/*/bench.ts.
// --rounds K: K rounds (alternating which system goes first); each figure is the median over the rounds.
//
// --profile DIR: warm-up + saturated run only, with `node --cpu-prof` on the system's process; the profiles land
// in DIR/<system> and their hot spots are printed (scripts/bench/profile-summary.ts).
// Output: a readable table and ONE JSON line (prefixed `BENCH_JSON `) on stdout; progress on stderr.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { tcpOpen } from '../services/lib/probe.ts';
import { type BrokerKind, type BrokerSource, createBrokerSource, type LoadResult } from './brokers.ts';
import { benchManyTriggers } from './many-triggers.ts';
import { summarizeProfile } from './profile-summary.ts';
import { runSourceBenches } from './sources.ts';

const repoRoot = resolve(import.meta.dirname, '../..');

const { values: args } = parseArgs({
  options: {
    only: { type: 'string' },
    n: { type: 'string', default: '20000' },
    warmup: { type: 'string', default: '2000' },
    rate: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '64' },
    'delivery-concurrency': { type: 'string', default: '64' },
    db: { type: 'string', default: '9' },
    profile: { type: 'string' },
    out: { type: 'string' },
    verbose: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '1' },
    harness: { type: 'string' },
    'max-s': { type: 'string' },
    sources: { type: 'boolean', default: false },
    source: { type: 'string', default: 'webhook,kafka,jetstream' },
    skip: { type: 'string', default: '' },
  },
});
/** sink.mjs and load.mjs: ../shared/bench from the repository root, unless --harness says otherwise. */
const harnessDir = resolve(args.harness ?? resolve(repoRoot, '../shared/bench'));
const N = Number(args.n);
const WARMUP = Number(args.warmup);
const RATE = Number(args.rate);
const LOAD_CONCURRENCY = Number(args.concurrency);
const DELIVERY_CONCURRENCY = Number(args['delivery-concurrency']);
const DB = Number(args.db);
const ROUNDS = Math.max(1, Number(args.rounds));
const LOAD_TIMEOUT_S = 180;
/** The whole bench's watchdog: by default 20 minutes per round (a loaded 2-core box needs ~7). */
const SOURCES = args.source.split(',').map((name) => name.trim()) as SourceName[];
type SourceName = 'webhook' | BrokerKind;
for (const name of SOURCES)
  if (!['webhook', 'kafka', 'jetstream'].includes(name)) throw new Error(`--source: unknown source ${name}`);
const MAX_S = Number(args['max-s'] ?? 900 * ROUNDS * SOURCES.length);

/** Argo Events v1.9.6 on this machine kind, and the project's targets: docs/design.md "Numbers to reach". */
const peer = {
  system: 'Argo Events v1.9.6 (webhook → NATS JetStream → sensor → HTTP), 2 cores',
  eventsPerS: { min: 1600, max: 1950 },
  rate1000: { p50Ms: 1.2, p99Ms: 12 },
  cpuMsPerEvent: 0.72,
};
const targets = { eventsPerS: 5500, p50Ms: 1.2, p99Ms: 12, cpuMsPerEvent: 0.25 };

const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

// ---------------------------------------------------------------------------------------------------------
// Child processes: every one is tracked and killed on any way out (normal end, error, signal, watchdog).

const children = new Set<ChildProcess>();

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

function killAll(): void {
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
  process.on(signal, () => {
    log(`${signal}: stopping`);
    killAll();
    process.exit(130);
  });
const watchdog = setTimeout(() => {
  log(`gave up after ${MAX_S} s (--max-s)`);
  killAll();
  process.exit(1);
}, MAX_S * 1000);
watchdog.unref();

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
async function stop(child: ChildProcess, graceMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** A log file in the work dir, as an fd for a child's stdio. */
function openLog(dir: string, name: string): number {
  return openSync(join(dir, name), 'a');
}

async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, child?: ChildProcess) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && (child.exitCode !== null || child.signalCode !== null))
      throw new Error(`${what}: the process exited (${child.exitCode ?? child.signalCode})`);
    if (await check().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`${what}: not ready after ${timeoutMs} ms`);
}

async function httpOk(url: string): Promise<boolean> {
  const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
  await response.arrayBuffer();
  return response.ok;
}

// ---------------------------------------------------------------------------------------------------------
// /proc figures.

const clockTicks = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of a process, in ms. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14, stime field 15.
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
}

function memoryMiB(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  return { rss: round(kib('VmRSS') / 1024, 1), peak: round(kib('VmHWM') / 1024, 1) };
}

function round(value: number, digits: number): number {
  const m = 10 ** digits;
  return Math.round(value * m) / m;
}

// ---------------------------------------------------------------------------------------------------------
// Redis.

/** The service stack's settings (TH_REDIS_URL, TH_KAFKA_BROKERS, TH_NATS_URL, …). */
function stackEnv(): Record<string, string> {
  const envFile = join(repoRoot, '.data/services/env.json');
  return existsSync(envFile) ? (JSON.parse(readFileSync(envFile, 'utf8')) as Record<string, string>) : {};
}

function stackRedisUrl(): string {
  return stackEnv().TH_REDIS_URL ?? 'redis://127.0.0.1:7301';
}

async function ping(url: string): Promise<boolean> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

/** Starts the stack's services the chosen sources need (idempotent: seconds when they already run). */
async function ensureServices(): Promise<string> {
  const services = [
    'redis',
    ...SOURCES.flatMap((name) => (name === 'kafka' ? ['kafka'] : name === 'jetstream' ? ['nats'] : [])),
  ];
  let url = stackRedisUrl();
  const env = stackEnv();
  const brokersAnswer = async () => {
    const ports = [
      ...(services.includes('kafka') ? [env.TH_KAFKA_BROKERS] : []),
      ...(services.includes('nats') ? [env.TH_NATS_URL] : []),
    ].map((address) => Number(/:(\d+)/.exec(address ?? '')?.[1]));
    return (await Promise.all(ports.map((port) => port > 0 && tcpOpen(port)))).every(Boolean);
  };
  if ((await ping(url)) && (await brokersAnswer())) return url;
  log(`node scripts/services/main.ts up ${services.join(' ')}`);
  const up = track(
    spawn(process.execPath, ['scripts/services/main.ts', 'up', ...services], {
      cwd: repoRoot,
      stdio: ['ignore', 2, 2],
    }),
  );
  const code = await new Promise<number | null>((done) => {
    const timer = setTimeout(() => up.kill('SIGKILL'), 1_800_000);
    up.on('exit', (c) => {
      clearTimeout(timer);
      done(c);
    });
  });
  url = stackRedisUrl();
  if (code !== 0 || !(await ping(url)))
    throw new Error(`could not start ${services.join(', ')} (exit ${code})`);
  return url;
}

let statsClient: Redis | undefined;

/** Redis's own counters (INFO stats): commands processed and socket reads. */
async function redisCounters(): Promise<{ commands: number; reads: number }> {
  statsClient ??= new Redis(stackRedisUrl(), { maxRetriesPerRequest: 1 });
  const info = await statsClient.info('stats');
  const value = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? 0);
  return { commands: value('total_commands_processed'), reads: value('total_reads_processed') };
}

function withDb(url: string, db: number): string {
  const parsed = new URL(url);
  parsed.pathname = `/${db}`;
  return parsed.toString();
}

// ---------------------------------------------------------------------------------------------------------
// The harness.

async function runLoad(
  workDir: string,
  label: string,
  url: string,
  sink: string,
  options: { n: number; rate?: number; waitReadyS?: number },
): Promise<LoadResult> {
  const loadArgs = [
    join(harnessDir, 'load.mjs'),
    '--url',
    url,
    '--sink',
    sink,
    '--n',
    String(options.n),
    '--concurrency',
    String(LOAD_CONCURRENCY),
    '--timeout-s',
    String(LOAD_TIMEOUT_S),
    '--label',
    label,
  ];
  if (options.rate) loadArgs.push('--rate', String(options.rate));
  if (options.waitReadyS) loadArgs.push('--wait-ready-s', String(options.waitReadyS));
  const child = track(
    spawn(process.execPath, loadArgs, {
      cwd: repoRoot, // load.mjs takes undici from the project's node_modules
      stdio: ['ignore', 'pipe', args.verbose ? 'inherit' : openLog(workDir, `load-${label}.log`)],
    }),
  );
  let stdout = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  const code = await new Promise<number | null>((done) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), (LOAD_TIMEOUT_S + 90) * 1000);
    child.on('exit', (c) => {
      clearTimeout(timer);
      done(c);
    });
  });
  const line = stdout.trim().split('\n').pop() ?? '';
  let result: LoadResult;
  try {
    result = JSON.parse(line) as LoadResult;
  } catch {
    throw new Error(`load.mjs (${label}) exited ${code} without a result; see ${workDir}/load-${label}.log`);
  }
  if (result.error) throw new Error(`load.mjs (${label}): ${result.error}`);
  return result;
}

// ---------------------------------------------------------------------------------------------------------
// The systems under test.

interface System {
  name: 'hub' | 'baseline';
  child: ChildProcess;
  /** Runs one load (load.mjs against the webhook, or the broker producer) and returns its figures. */
  load(label: string, options: { n: number; rate?: number; waitReadyS?: number }): Promise<LoadResult>;
  /** From spawn to ready (the hub: /readyz with its trigger running). */
  startupMs: number;
}

/** Each load run gets its own run id at the sink. */
const runLabel = (label: string) => `${label}-${Date.now().toString(36)}`;

/** The load of one system: load.mjs against its webhook URL, or the broker producer of `source`. */
function loadFor(
  workDir: string,
  sinkUrl: string,
  webhookUrl: string,
  source: BrokerSource | undefined,
): System['load'] {
  if (!source) return (label, options) => runLoad(workDir, label, webhookUrl, sinkUrl, options);
  return (label, options) => source.load(runLabel(label), sinkUrl, { ...options, timeoutS: LOAD_TIMEOUT_S });
}

async function startHub(
  workDir: string,
  redisUrl: string,
  sinkUrl: string,
  profileDir: string | undefined,
  source: BrokerSource | undefined,
  /** Hubs given the same namespace run the same trigger (one Kafka consumer group). */
  namespace = `bench-${Date.now().toString(36)}`,
): Promise<System> {
  const triggersDir = mkdtempSync(join(workDir, 'triggers-'));
  writeFileSync(
    join(triggersDir, 'bench.yaml'),
    stringify({
      apiVersion: 'triggerhub.io/v1alpha1',
      kind: 'Trigger',
      metadata: { name: 'bench', namespace },
      spec: {
        source: source?.triggerSource ?? { webhook: {} },
        target: { http: { url: `${sinkUrl}/` } },
        delivery: { concurrency: DELIVERY_CONCURRENCY },
      },
    }),
  );
  const port = await freePort();
  const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const spawnedAt = performance.now();
  const child = track(
    spawn(
      process.execPath,
      [...nodeArgs, 'src/cli/main.ts', 'run', '--triggers', triggersDir, '--port', String(port)],
      {
        cwd: repoRoot,
        env: {
          ...process.env,
          REDIS_URL: redisUrl,
          LOG_LEVEL: 'warn',
          TH_DATA_DIR: join(workDir, 'data'),
          TH_SHUTDOWN_DEADLINE_MS: '5000',
        },
        stdio: ['ignore', openLog(workDir, 'hub.log'), openLog(workDir, 'hub.log')],
      },
    ),
  );
  const base = `http://127.0.0.1:${port}`;
  await waitFor(
    'hub /readyz',
    async () => {
      const response = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(2000) });
      const body = (await response.json()) as { triggers?: { running?: number } };
      return response.ok && (body.triggers?.running ?? 0) >= 1;
    },
    30_000,
    child,
  );
  return {
    name: 'hub',
    child,
    load: loadFor(workDir, sinkUrl, `${base}/webhooks/${namespace}/bench`, source),
    startupMs: Math.round(performance.now() - spawnedAt),
  };
}

async function startBaseline(
  workDir: string,
  redisUrl: string,
  sinkUrl: string,
  profileDir: string | undefined,
  source: BrokerSource | undefined,
): Promise<System> {
  const port = await freePort();
  const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const spawnedAt = performance.now();
  const child = track(
    spawn(
      process.execPath,
      [
        ...nodeArgs,
        join(repoRoot, 'scripts/bench/baseline.ts'),
        '--redis',
        redisUrl,
        '--port',
        String(port),
        '--target',
        `${sinkUrl}/`,
        '--queue',
        `bench-baseline-${Date.now().toString(36)}`,
        '--concurrency',
        String(DELIVERY_CONCURRENCY),
        ...(source?.baselineArgs ?? []),
      ],
      { cwd: repoRoot, stdio: ['ignore', 'pipe', openLog(workDir, 'baseline.log')] },
    ),
  );
  let ready = false;
  child.stdout!.on('data', (chunk: Buffer) => {
    if (chunk.toString('utf8').includes('"ready":true')) ready = true;
  });
  await waitFor('baseline', async () => ready, 30_000, child);
  return {
    name: 'baseline',
    child,
    load: loadFor(workDir, sinkUrl, `http://127.0.0.1:${port}/events`, source),
    startupMs: Math.round(performance.now() - spawnedAt),
  };
}

/** When each system's saturated run started and ended, and its process exited (to cut its CPU profile). */
const runWindows = new Map<string, { startMs: number; endMs: number; exitMs?: number }>();

interface RunFigures {
  eventsPerS: number | null;
  p50Ms: number | null;
  p90Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  webhookP50Ms: number;
  webhookP99Ms: number;
  cpuMsPerEvent: number;
  redisCpuMsPerEvent: number | null;
  /** Commands Redis ran, and socket reads it made, per event (the whole server: other clients count too). */
  redisCommandsPerEvent: number;
  redisReadsPerEvent: number;
  rssMiB: number;
  lost: number;
  duplicates: number;
  notAccepted: number;
  timedOut: boolean;
}

async function measure(
  system: System,
  redisPid: number | undefined,
  label: string,
  rate: number | undefined,
  first: boolean,
): Promise<RunFigures> {
  const pid = system.child.pid!;
  log(`${system.name}: warm-up ${WARMUP} events${rate ? ` at ${rate}/s` : ''}`);
  const warm = await system.load(`${system.name}-${label}-warmup`, {
    n: WARMUP,
    ...(rate ? { rate } : {}),
    ...(first ? { waitReadyS: 30 } : {}),
  });
  if (warm.lost || warm.timed_out)
    log(`${system.name}: warm-up lost ${warm.lost} (timed out: ${warm.timed_out})`);
  const startedAt = performance.now();
  const cpu0 = cpuMs(pid);
  const redis0 = redisPid ? cpuMs(redisPid) : 0;
  const counters0 = await redisCounters();
  log(
    `${system.name}: ${label} run, ${N} events${rate ? ` at ${rate}/s` : ` with concurrency ${LOAD_CONCURRENCY}`}`,
  );
  const result = await system.load(`${system.name}-${label}`, {
    n: N,
    ...(rate ? { rate } : {}),
  });
  const cpu = cpuMs(pid) - cpu0;
  if (label === 'saturated') runWindows.set(system.name, { startMs: startedAt, endMs: performance.now() });
  const redisCpu = redisPid ? cpuMs(redisPid) - redis0 : undefined;
  const counters = await redisCounters();
  const delivered = Math.max(1, result.accepted - result.lost);
  const figures: RunFigures = {
    eventsPerS: result.e2e_rate_per_s,
    p50Ms: result.latency_ms?.p50 ?? null,
    p90Ms: result.latency_ms?.p90 ?? null,
    p99Ms: result.latency_ms?.p99 ?? null,
    maxMs: result.latency_ms?.max ?? null,
    webhookP50Ms: result.webhook_ms.p50,
    webhookP99Ms: result.webhook_ms.p99,
    cpuMsPerEvent: round(cpu / delivered, 3),
    redisCpuMsPerEvent: redisCpu === undefined ? null : round(redisCpu / delivered, 3),
    redisCommandsPerEvent: round((counters.commands - counters0.commands) / delivered, 2),
    redisReadsPerEvent: round((counters.reads - counters0.reads) / delivered, 2),
    rssMiB: memoryMiB(pid).rss,
    lost: result.lost,
    duplicates: result.duplicates,
    notAccepted: N - result.accepted,
    timedOut: result.timed_out,
  };
  log(
    `${system.name}: ${label}: ${figures.eventsPerS} ev/s, p50 ${figures.p50Ms} ms, p99 ${figures.p99Ms} ms, ` +
      `${figures.cpuMsPerEvent} CPU ms/event, RSS ${figures.rssMiB} MiB, lost ${figures.lost}`,
  );
  return figures;
}

interface SystemFigures {
  saturated: RunFigures;
  rate?: RunFigures;
  peakRssMiB: number;
  /** RSS once ready, before any load. */
  idleRssMiB: number;
  startupMs: number;
}

async function benchSystem(
  name: System['name'],
  redisBase: string,
  sinkUrl: string,
  redisPid: number | undefined,
  workDir: string,
  sourceName: SourceName,
): Promise<SystemFigures> {
  const redisUrl = withDb(redisBase, DB);
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    await redis.flushdb(); // a fresh database for each system under test
  } finally {
    redis.disconnect();
  }
  const profileDir = args.profile ? resolve(args.profile, name) : undefined;
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  // A fresh topic / stream per system, so each starts on an empty one.
  const source = sourceName === 'webhook' ? undefined : await createBrokerSource(sourceName, stackEnv());
  const system =
    name === 'hub'
      ? await startHub(workDir, redisUrl, sinkUrl, profileDir, source)
      : await startBaseline(workDir, redisUrl, sinkUrl, profileDir, source);
  try {
    await sleep(1000);
    const idleRssMiB = memoryMiB(system.child.pid!).rss;
    const saturated = await measure(system, redisPid, 'saturated', undefined, true);
    const rate = profileDir ? undefined : await measure(system, redisPid, 'rate', RATE, false);
    const peakRssMiB = memoryMiB(system.child.pid!).peak;
    return { saturated, ...(rate ? { rate } : {}), peakRssMiB, idleRssMiB, startupMs: system.startupMs };
  } finally {
    await stop(system.child);
    await source?.close();
    const window = runWindows.get(name);
    if (window) window.exitMs = performance.now();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Report.

/** CPU model, cores and memory: the figures mean little without the machine they ran on. */
function machineDescription(): string {
  const model = cpus()[0]?.model.trim() ?? 'unknown CPU';
  const memGiB = Math.round(
    Number(/MemTotal:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0) / 1048576,
  );
  return `${cpus().length} × ${model}, ${memGiB} GiB`;
}

function median(values: Array<number | null>): number | null {
  const sorted = values.filter((v): v is number => v !== null).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : round((sorted[mid - 1]! + sorted[mid]!) / 2, 3);
}

/** Several rounds of one system: the median of each figure; losses and duplicates add up. */
function medianOf(list: SystemFigures[]): SystemFigures {
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

function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  return a == null || b == null || b === 0 ? null : round(a / b, 2);
}

function alignRows(lines: string[][]): string {
  const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  return lines
    .map((l) =>
      l.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '),
    )
    .join('\n');
}

/** Kafka → function, saturated, with 1, 2 and 3 hub processes sharing one consumer group. */
async function benchScaling(redisBase: string, sinkUrl: string, workDir: string) {
  const redisUrl = withDb(redisBase, DB);
  const rows = [];
  for (const hubs of [1, 2, 3]) {
    const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
    await redis.flushdb().finally(() => redis.disconnect());
    const source = await createBrokerSource('kafka', stackEnv());
    const namespace = `bench-scale-${Date.now().toString(36)}`;
    const systems: System[] = [];
    try {
      for (let i = 0; i < hubs; i++)
        systems.push(await startHub(workDir, redisUrl, sinkUrl, undefined, source, namespace));
      log(`scaling: ${hubs} hub(s), warm-up (the group settles)`);
      await source.load(runLabel(`scale${hubs}-warmup`), sinkUrl, { n: WARMUP, timeoutS: LOAD_TIMEOUT_S });
      const cpu0 = systems.map((system) => cpuMs(system.child.pid!));
      log(`scaling: ${hubs} hub(s), ${N} events`);
      const result = await source.load(runLabel(`scale${hubs}`), sinkUrl, { n: N, timeoutS: LOAD_TIMEOUT_S });
      const cpu = systems.reduce((sum, system, i) => sum + cpuMs(system.child.pid!) - cpu0[i]!, 0);
      rows.push({
        hubs,
        eventsPerS: result.e2e_rate_per_s,
        p50Ms: result.latency_ms?.p50 ?? null,
        p99Ms: result.latency_ms?.p99 ?? null,
        cpuMsPerEvent: round(cpu / Math.max(1, result.accepted - result.lost), 3),
        lost: result.lost,
        duplicates: result.duplicates,
      });
    } finally {
      for (const system of systems) await stop(system.child);
      await source.close();
    }
  }
  return rows;
}

/** The scaling run (1, 2, 3 hubs) and the 1,000-trigger run, unless --skip names them; their report lines. */
async function runExtras(redisBase: string, sinkUrl: string, workDir: string): Promise<string[]> {
  const out: string[] = [];
  const skipped = new Set(args.skip.split(','));
  if (!skipped.has('scale')) {
    const scaling = await benchScaling(redisBase, sinkUrl, workDir);
    out.push('');
    out.push(
      'Kafka → function with 1, 2 and 3 hub processes in one consumer group (saturated, 6 partitions)',
    );
    out.push(
      alignRows([
        ['hubs', 'events/s', 'p50 ms', 'p99 ms', 'CPU ms/event (all hubs)', 'lost / duplicates'],
        ...scaling.map((row) => [
          String(row.hubs),
          String(row.eventsPerS),
          String(row.p50Ms),
          String(row.p99Ms),
          String(row.cpuMsPerEvent),
          `${row.lost} / ${row.duplicates}`,
        ]),
      ]),
    );
    out.push(`SCALING_JSON ${JSON.stringify(scaling)}`);
  }
  if (!skipped.has('triggers')) {
    const many = await benchManyTriggers(1000, withDb(redisBase, DB));
    out.push('');
    out.push(
      `1,000 triggers in one hub: ready ${many.startupToReadyMs} ms after spawn, RSS ${many.rssMiB} MiB settled ` +
        `(${many.rssAfterEventsMiB} MiB with every trigger's Worker awake after one event each), ` +
        `${many.delivered} of 1,000 delivered`,
    );
    out.push(`TRIGGERS_JSON ${JSON.stringify(many)}`);
  }

  return out;
}

function table(results: Partial<Record<System['name'], SystemFigures>>): string {
  const { hub, baseline } = results;
  const rows: Array<[string, (f: SystemFigures) => number | null | undefined, string]> = [
    ['saturated: events/s', (f) => f.saturated.eventsPerS, `${peer.eventsPerS.min}–${peer.eventsPerS.max}`],
    ['saturated: p50 ms', (f) => f.saturated.p50Ms, ''],
    ['saturated: p99 ms', (f) => f.saturated.p99Ms, ''],
    ['saturated: CPU ms/event', (f) => f.saturated.cpuMsPerEvent, String(peer.cpuMsPerEvent)],
    ['saturated: Redis CPU ms/event', (f) => f.saturated.redisCpuMsPerEvent, ''],
    ['saturated: Redis commands/event', (f) => f.saturated.redisCommandsPerEvent, ''],
    ['saturated: Redis socket reads/event', (f) => f.saturated.redisReadsPerEvent, ''],
    [`${RATE}/s: events/s`, (f) => f.rate?.eventsPerS, ''],
    [`${RATE}/s: p50 added ms`, (f) => f.rate?.p50Ms, String(peer.rate1000.p50Ms)],
    [`${RATE}/s: p99 added ms`, (f) => f.rate?.p99Ms, String(peer.rate1000.p99Ms)],
    [`${RATE}/s: CPU ms/event`, (f) => f.rate?.cpuMsPerEvent, ''],
    [`${RATE}/s: Redis CPU ms/event`, (f) => f.rate?.redisCpuMsPerEvent, ''],
    ['RSS after runs MiB', (f) => f.rate?.rssMiB ?? f.saturated.rssMiB, ''],
    ['RSS idle (ready, before load) MiB', (f) => f.idleRssMiB, ''],
    ['peak RSS MiB', (f) => f.peakRssMiB, ''],
    ['start-up to ready ms', (f) => f.startupMs, ''],
    ['lost / duplicates', () => null, '(by default: 503s)'],
  ];
  const fmt = (v: number | null | undefined) => (v == null ? '-' : String(v));
  const lines = [['', 'hub', 'baseline', 'hub/baseline', 'peer (Argo)']];
  for (const [label, get, peerValue] of rows) {
    if (label === 'lost / duplicates') {
      const ld = (f?: SystemFigures) =>
        f
          ? `${f.saturated.lost + (f.rate?.lost ?? 0)} / ${f.saturated.duplicates + (f.rate?.duplicates ?? 0)}`
          : '-';
      lines.push([label, ld(hub), ld(baseline), '', peerValue]);
      continue;
    }
    const h = hub ? get(hub) : undefined;
    const b = baseline ? get(baseline) : undefined;
    lines.push([label, fmt(h), fmt(b), fmt(ratio(h, b)), peerValue]);
  }
  return alignRows(lines);
}

async function main(): Promise<void> {
  for (const file of ['load.mjs', 'sink.mjs'])
    if (!existsSync(join(harnessDir, file)))
      throw new Error(`the shared harness is missing: ${join(harnessDir, file)}`);
  const redisBase = await ensureServices();
  const info = await (async () => {
    const redis = new Redis(redisBase, { maxRetriesPerRequest: 1 });
    try {
      return await redis.info('server');
    } finally {
      redis.disconnect();
    }
  })();
  const redisPidValue = Number(/process_id:(\d+)/.exec(info)?.[1]);
  const redisPid = existsSync(`/proc/${redisPidValue}/stat`) ? redisPidValue : undefined;
  const workDir = mkdtempSync(join(tmpdir(), 'trigger-hub-bench-'));
  const loadBefore = round(loadavg()[0]!, 2);
  if (loadBefore > cpus().length / 2)
    log(`warning: load average ${loadBefore} on ${cpus().length} CPUs: other work will skew the figures`);
  log(`Redis ${redisBase} db ${DB}; logs in ${workDir}`);

  const sinkPort = await freePort();
  const sink = track(
    spawn(process.execPath, [join(harnessDir, 'sink.mjs'), '--port', String(sinkPort), '--quiet'], {
      stdio: ['ignore', openLog(workDir, 'sink.log'), openLog(workDir, 'sink.log')],
    }),
  );
  const sinkUrl = `http://127.0.0.1:${sinkPort}`;
  type Results = Partial<Record<System['name'], SystemFigures>>;
  let extrasOutput: string[] = [];
  const results: Partial<Record<SourceName, Results>> = {};
  const rounds: Partial<Record<SourceName, Partial<Record<System['name'], SystemFigures[]>>>> = {};
  try {
    await waitFor('sink', () => httpOk(`${sinkUrl}/health`), 10_000, sink);
    const systems: Array<System['name']> =
      args.only === 'hub' || args.only === 'baseline' ? [args.only] : ['baseline', 'hub'];
    for (const sourceName of SOURCES) {
      const perSystem: Partial<Record<System['name'], SystemFigures[]>> = {};
      rounds[sourceName] = perSystem;
      for (let round = 0; round < ROUNDS; round++) {
        // Alternate the order, so neither system always runs on a warmer (or busier) machine.
        for (const name of round % 2 === 0 ? systems : [...systems].reverse()) {
          log(`${sourceName}${ROUNDS > 1 ? `, round ${round + 1}/${ROUNDS}` : ''}: ${name}`);
          const figures = await benchSystem(name, redisBase, sinkUrl, redisPid, workDir, sourceName);
          perSystem[name] = [...(perSystem[name] ?? []), figures];
        }
      }
      const medians: Results = {};
      for (const name of systems) medians[name] = medianOf(perSystem[name]!);
      results[sourceName] = medians;
    }
    // Scaling and many-trigger runs: printed after the main tables.
    extrasOutput = await runExtras(redisBase, sinkUrl, workDir);
  } finally {
    await stop(sink, 2000);
    statsClient?.disconnect();
  }

  const ratios = ({ hub, baseline }: Results) => ({
    eventsPerS: ratio(hub?.saturated.eventsPerS, baseline?.saturated.eventsPerS),
    saturatedP50: ratio(hub?.saturated.p50Ms, baseline?.saturated.p50Ms),
    saturatedP99: ratio(hub?.saturated.p99Ms, baseline?.saturated.p99Ms),
    rateP50: ratio(hub?.rate?.p50Ms, baseline?.rate?.p50Ms),
    rateP99: ratio(hub?.rate?.p99Ms, baseline?.rate?.p99Ms),
    cpuMsPerEvent: ratio(hub?.saturated.cpuMsPerEvent, baseline?.saturated.cpuMsPerEvent),
    peakRss: ratio(hub?.peakRssMiB, baseline?.peakRssMiB),
  });
  const summary = {
    bench: 'trigger-hub',
    at: new Date().toISOString(),
    machine: machineDescription(),
    node: process.version,
    cpus: cpus().length,
    loadAverage: { before: loadBefore, after: round(loadavg()[0]!, 2) },
    settings: {
      n: N,
      warmup: WARMUP,
      loadConcurrency: LOAD_CONCURRENCY,
      rate: RATE,
      deliveryConcurrency: DELIVERY_CONCURRENCY,
      redis: `${redisBase} db ${DB}`,
    },
    sources: Object.fromEntries(
      Object.entries(results).map(([name, figures]) => [name, { ...figures, ratio: ratios(figures) }]),
    ),
    ...(ROUNDS > 1 ? { rounds } : {}),
    peer,
    targets,
  };
  console.log('');
  console.log(`${summary.machine}; Node ${process.version}`);
  console.log(
    `${N} events per run after ${WARMUP} warm-up, load concurrency ${LOAD_CONCURRENCY}, delivery concurrency ` +
      `${DELIVERY_CONCURRENCY}${ROUNDS > 1 ? `; medians of ${ROUNDS} rounds` : ''}; load average ${summary.loadAverage.before} before, ${summary.loadAverage.after} after`,
  );
  for (const [name, figures] of Object.entries(results)) {
    console.log('');
    console.log(`${name} → HTTP sink`);
    console.log(table(figures));
  }
  console.log('');
  console.log(`BENCH_JSON ${JSON.stringify(summary)}`);
  if (args.out) writeFileSync(args.out, `${JSON.stringify(summary, null, 2)}\n`);

  for (const line of extrasOutput) console.log(line);

  if (args.sources) {
    console.log('');
    const sources = await runSourceBenches(log);
    for (const result of sources) console.log(`SOURCE_JSON ${JSON.stringify(result)}`);
  }

  if (args.profile) {
    for (const name of ['baseline', 'hub']) {
      const dir = resolve(args.profile, name);
      if (!existsSync(dir)) continue;
      const latest = readdirSync(dir)
        .filter((f) => f.endsWith('.cpuprofile'))
        .sort()
        .pop();
      if (!latest) continue;
      console.log('');
      console.log(`${name} CPU profile: ${join(dir, latest)}`);
      const window = runWindows.get(name);
      // The profile ends when the process exits: keep the samples of the saturated run only.
      const cut =
        window?.exitMs === undefined
          ? undefined
          : { fromEndMs: window.exitMs - window.startMs, toEndMs: window.exitMs - window.endMs };
      console.log(summarizeProfile(join(dir, latest), 30, cut));
    }
  }
  rmSync(workDir, { recursive: true, force: true });
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    log(`failed: ${(error as Error).stack ?? String(error)}`);
    killAll();
    process.exit(1);
  },
);
