// The container image of deploy/Dockerfile, built by scripts/services/image.ts (buildah, on bases made from
// Debian packages: no registry here) and run with podman the way the Helm chart runs it: the image's own
// non-root USER, a read-only root filesystem with a tmpfs /tmp, no capabilities. Host network on 127.0.0.1,
// the stack's Redis, standalone mode on a webhook Trigger mounted read-only. It must answer /readyz, deliver
// a webhook event to a function, and on SIGTERM finish its in-flight deliveries and exit 0, leaving the
// not-yet-started events queued in Redis for the next start (docs/operations.md, "Shutdown and upgrades").

import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ensureImage, type ImageInfo, RUNTIME_FLAGS, ULIMITS } from '../../../scripts/services/image.ts';
import { serviceEnv } from '../../setup/env.ts';
import { freePort, triggerDoc, uniqueNamespace } from '../../support/hub.ts';
import { postMany } from '../../support/post.ts';
import { type Received, type Sink, startSink } from '../../support/sink.ts';
import { waitFor } from '../../support/wait.ts';

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function podman(args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      'podman',
      [...RUNTIME_FLAGS, ...args],
      { maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
    );
  });
}

async function podmanOk(args: string[]): Promise<string> {
  const result = await podman(args);
  if (result.code !== 0) throw new Error(`podman ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
  return result.stdout.trim();
}

const deadlineMs = 10_000;
const concurrency = 4;
const slowMs = 2000;

describe('the container image under podman', () => {
  const namespace = uniqueNamespace('image');
  const trigger = 'hook';
  const containers: string[] = [];
  let info: ImageInfo;
  let sink: Sink;
  let triggersDir: string;
  /** When set, the sink holds each answer this long (deliveries stay in flight). */
  let holdMs = 0;

  beforeAll(async () => {
    info = await ensureImage();
    console.log(
      `image ${info.image}: ${(info.sizeBytes / 1e6).toFixed(1)} MB, ${info.built ? 'built' : 'already built'}, ensureImage took ${info.ms} ms`,
    );
    sink = await startSink({ respond: () => ({ status: 200, delayMs: holdMs }) });
    // Readable by the image's uid 1000 (mkdtemp makes a 0700 folder).
    triggersDir = mkdtempSync(join(tmpdir(), 'th-image-triggers-'));
    chmodSync(triggersDir, 0o755);
    const file = join(triggersDir, 'hook.yaml');
    writeFileSync(
      file,
      stringify(
        triggerDoc(namespace, trigger, {
          source: { webhook: {} },
          target: { http: { url: sink.url } },
          delivery: { concurrency, retries: 3, timeoutMs: 30_000 },
        }),
      ),
    );
    chmodSync(file, 0o644);
  }, 1_800_000);

  afterAll(async () => {
    for (const name of containers) await podman(['rm', '--force', '--time', '0', name]);
    await sink?.close();
  });

  /** Starts a hub container; resolves once /readyz answers 200 and its Trigger runs, with the times. */
  async function startHub(
    label: string,
  ): Promise<{ name: string; url: string; readyMs: number; runningMs: number }> {
    const name = `th-${namespace}-${label}`;
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    containers.push(name);
    const t0 = Date.now();
    await podmanOk([
      'run',
      '--detach',
      '--name',
      name,
      '--network',
      'host',
      ...ULIMITS,
      '--read-only',
      '--tmpfs',
      '/tmp:rw,mode=1777,size=64m',
      '--cap-drop',
      'ALL',
      '--security-opt',
      'no-new-privileges',
      '--volume',
      `${triggersDir}:/triggers:ro`,
      '--env',
      `REDIS_URL=${serviceEnv('TH_REDIS_URL').TH_REDIS_URL}`,
      '--env',
      'TH_HOST=127.0.0.1',
      '--env',
      `TH_PORT=${port}`,
      '--env',
      `TH_SHUTDOWN_DEADLINE_MS=${deadlineMs}`,
      info.image,
      'run',
      '--triggers',
      '/triggers',
    ]);
    let readyMs = 0;
    let runningMs = 0;
    try {
      await waitFor(
        async () => {
          const response = await fetch(`${url}/readyz`).catch(() => undefined);
          if (response?.status !== 200) return false;
          const body = (await response.json()) as { triggers: { running: number } };
          readyMs ||= Date.now() - t0;
          if (body.triggers.running < 1) return false;
          runningMs = Date.now() - t0;
          return true;
        },
        60_000,
        `${name} to answer /readyz 200 with its Trigger running`,
        { intervalMs: 25 },
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${await logs(name)}`);
    }
    return { name, url, readyMs, runningMs };
  }

  async function logs(name: string): Promise<string> {
    const result = await podman(['logs', name]);
    return `--- podman logs ${name}:\n${result.stdout}${result.stderr}`;
  }

  const seqOf = (request: Received) => (JSON.parse(request.body.toString('utf8')) as { seq: number }).seq;

  it('runs as its non-root USER on a read-only root filesystem, answers /readyz and delivers a webhook', async () => {
    expect(await podmanOk(['image', 'inspect', '--format', '{{.Config.User}}', info.image])).toBe(
      '1000:1000',
    );
    const hub = await startHub('a');
    console.log(
      `cold start: podman run → /readyz 200 in ${hub.readyMs} ms, Trigger running in ${hub.runningMs} ms`,
    );

    // The hub process as the host sees it: uid 1000, not root.
    const pid = await podmanOk(['inspect', '--format', '{{.State.Pid}}', hub.name]);
    const uids = /^Uid:\s+(\d+)\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    expect(uids?.slice(1, 3)).toEqual(['1000', '1000']);
    // Even root inside the container cannot write to the root filesystem; /tmp (the tmpfs) is writable.
    const write = await podman([
      'exec',
      '--user',
      '0',
      hub.name,
      'node',
      '-e',
      "require('fs').writeFileSync('/app/written', 'x')",
    ]);
    expect(write.code).not.toBe(0);
    expect(write.stderr).toContain('EROFS');
    await podmanOk(['exec', hub.name, 'node', '-e', "require('fs').writeFileSync('/tmp/written', 'x')"]);

    const [answer] = await postMany(`${hub.url}/webhooks/${namespace}/${trigger}`, 1, {
      headersFor: () => ({ 'idempotency-key': `${namespace}-first` }),
      bodyFor: () => ({ seq: -1 }),
    });
    expect(answer!.status).toBe(202);
    await sink.waitFor(
      () => sink.received.some((r) => seqOf(r) === -1),
      30_000,
      'the webhook event at the sink',
    );
    const delivered = sink.received.find((r) => seqOf(r) === -1)!;
    expect(delivered.headers['ce-source']).toContain(`${namespace}/${trigger}`);
    expect(delivered.answered).toBe(200);
  });

  it('on SIGTERM finishes its in-flight deliveries and exits 0; the queued rest is delivered by the next start', async () => {
    const first = containers.at(-1)!;
    const hub = { name: first, url: '' };
    const port = (await podmanOk(['inspect', '--format', '{{range .Config.Env}}{{println .}}{{end}}', first]))
      .split('\n')
      .find((line) => line.startsWith('TH_PORT='))!
      .slice('TH_PORT='.length);
    hub.url = `http://127.0.0.1:${port}`;
    sink.received.length = 0;
    holdMs = slowMs;
    const total = 12;
    const posted = await postMany(`${hub.url}/webhooks/${namespace}/${trigger}`, total, {
      concurrency: 4,
      headersFor: (i) => ({ 'idempotency-key': `${namespace}-${i}` }),
    });
    expect(posted.map((p) => p.status)).toEqual(Array(total).fill(202));

    // The signal comes while `concurrency` deliveries are held by the slow function.
    await sink.waitFor(
      () => sink.received.length >= concurrency,
      30_000,
      `${concurrency} deliveries in flight`,
    );
    const inFlight = sink.received.filter((r) => r.answered === undefined);
    expect(inFlight.length).toBe(concurrency);
    const signalledAt = Date.now();
    await podmanOk(['kill', '--signal', 'TERM', hub.name]);
    const code = Number(await podmanOk(['wait', hub.name]));
    const exitMs = Date.now() - signalledAt;
    const finished = inFlight.filter((r) => r.answered === 200).length;
    console.log(
      `SIGTERM: exit code ${code} after ${exitMs} ms (deadline ${deadlineMs} ms); ${inFlight.length} deliveries in flight, ${finished} answered 200 before the exit; ${sink.received.length - inFlight.length} more started`,
    );
    expect(code, await logs(hub.name)).toBe(0);
    // Every in-flight delivery was answered on a still-open connection before the process was gone...
    expect(finished).toBe(inFlight.length);
    // ...and it left once they were done, not at the deadline.
    expect(exitMs).toBeLessThan(deadlineMs);
    // No delivery was started after the signal: the rest stays queued.
    expect(sink.received.length).toBe(concurrency);

    // The next start delivers the rest, each event once.
    holdMs = 0;
    const next = await startHub('b');
    await sink.waitFor(
      () => new Set(sink.received.map(seqOf)).size === total,
      60_000,
      `all ${total} events at the sink`,
    );
    const seqs = sink.received.map(seqOf).sort((a, b) => a - b);
    expect(seqs).toEqual([...Array(total).keys()]);
    expect(sink.received.every((r) => r.answered === 200)).toBe(true);
    await podmanOk(['kill', '--signal', 'TERM', next.name]);
    expect(Number(await podmanOk(['wait', next.name]))).toBe(0);
  });
});
