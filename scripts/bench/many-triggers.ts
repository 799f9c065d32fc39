// One hub with many triggers loaded (`npm run bench -- --triggers 1000`, or alone:
// `node scripts/bench/many-triggers.ts [count=1000]`): start-up to ready (spawn → /readyz with every trigger
// running), RSS once settled, and one event through every trigger to show they all deliver.
// Needs the stack's Redis (`npm run services -- up redis`).

import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { repoRoot } from '../services/lib/paths.ts';
import { freePort, waitFor } from '../services/lib/probe.ts';
import { exited } from './children.ts';
import { rssKiB } from './proc-figures.ts';
import { stackRedisUrl } from './stack.ts';

export interface ManyTriggersResult {
  triggers: number;
  startupToReadyMs: number;
  /** Ready and settled, before any event. */
  rssMiB: number;
  /** After one event through every trigger (every dispatcher awake at once). */
  rssAfterEventsMiB: number;
  delivered: number;
}

export async function benchManyTriggers(count: number, redisUrl: string): Promise<ManyTriggersResult> {
  const workDir = mkdtempSync(join(tmpdir(), 'trigger-hub-many-'));
  const received = new Set<string>();
  const sink = createServer((req, res) => {
    received.add(req.url ?? '');
    req.resume();
    req.on('end', () => res.writeHead(200).end());
  });
  await new Promise<void>((done) => sink.listen(0, '127.0.0.1', done));
  const sinkPort = (sink.address() as { port: number }).port;
  const namespace = `many-${Date.now().toString(36)}`;
  const triggersDir = join(workDir, 'triggers');
  mkdirSync(triggersDir);
  const docs = Array.from({ length: count }, (_, i) =>
    stringify({
      apiVersion: 'triggerhub.io/v1alpha1',
      kind: 'Trigger',
      metadata: { name: `t${i}`, namespace },
      spec: {
        source: { webhook: {} },
        target: { http: { url: `http://127.0.0.1:${sinkPort}/t${i}` } },
      },
    }),
  );
  writeFileSync(join(triggersDir, 'many.yaml'), docs.join('---\n'));
  const port = await freePort();
  const spawnedAt = performance.now();
  const hub = spawn(
    process.execPath,
    ['src/cli/main.ts', 'run', '--triggers', triggersDir, '--port', String(port)],
    {
      cwd: repoRoot,
      env: { ...process.env, REDIS_URL: redisUrl, LOG_LEVEL: 'warn', TH_DATA_DIR: join(workDir, 'data') },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const base = `http://127.0.0.1:${port}`;
  try {
    const allRunning = async () => {
      const body = (await fetch(`${base}/readyz`)
        .then((r) => (r.ok ? r.json() : undefined))
        .catch(() => undefined)) as { triggers?: { running?: number } } | undefined;
      return (body?.triggers?.running ?? 0) >= count;
    };
    await waitFor(allRunning, 120_000, `the hub with ${count} triggers running`, {
      intervalMs: 50,
      abort: exited(hub),
    });
    const startupToReadyMs = Math.round(performance.now() - spawnedAt);
    await sleep(5000); // settle: lazy work after ready (connections, first scrapes) counts
    const rssMiB = Math.round(rssKiB(hub.pid!) / 1024);
    // One event through each trigger, 50 at a time.
    for (let i = 0; i < count; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, count - i) }, (_, j) =>
          fetch(`${base}/webhooks/${namespace}/t${i + j}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: '{"ping":1}',
          }).then((r) => r.arrayBuffer()),
        ),
      );
    }
    // Those that did not deliver within a minute are reported as not delivered.
    await waitFor(() => received.size >= count, 60_000, 'one delivery per trigger').catch(() => {});
    return {
      triggers: count,
      startupToReadyMs,
      rssMiB,
      rssAfterEventsMiB: Math.round(rssKiB(hub.pid!) / 1024),
      delivered: received.size,
    };
  } finally {
    hub.kill('SIGTERM');
    await new Promise((done) => hub.once('exit', done));
    sink.close();
    const redis = new Redis(redisUrl);
    const keys = await redis.keys(`th:{${namespace}/*`);
    for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
    redis.disconnect();
    rmSync(workDir, { recursive: true, force: true });
  }
}

if (import.meta.main)
  console.log(JSON.stringify(await benchManyTriggers(Number(process.argv[2] ?? 1000), stackRedisUrl())));
