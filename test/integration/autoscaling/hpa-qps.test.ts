// "HPA-driven scaling on qps", observed end to end on the real parts: a hub process in controller mode makes
// the HPA of a Trigger's spec.scaling; the stack's Prometheus scrapes the hub's real /metrics; prometheus-adapter
// (deploy/prometheus-adapter's rules) serves trigger_hub_events_delivered_per_second as external.metrics.k8s.io
// through the API server's aggregation layer; kube-controller-manager's HPA controller reads it and changes the
// function Deployment's replicas. No node runs here, so the Deployment's Pods stay Pending: the replica count is
// what the HPA writes, and that is what this test watches rise with the load and fall after it.

import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hpaTimings } from '../../../scripts/services/kube-controller-manager.ts';
import {
  createNamespace,
  deleteNamespace,
  kubeClient,
  spawnControllerHub,
} from '../../../sensors/kubernetes/test-support.ts';
import { triggersPath } from '../../../src/controller/controller.ts';
import type { KubeClient } from '../../../src/controller/kube-client.ts';
import { awaitBackgroundServices } from '../../setup/background.ts';
import { serviceEnv } from '../../setup/env.ts';
import { installTriggerCrd } from '../../support/controller.ts';
import { freePort, type HubProcess } from '../../support/hub.ts';
import { postAtRate } from '../../support/post.ts';
import { type Sink, startSink } from '../../support/sink.ts';
import { waitFor } from '../../support/wait.ts';

// biome-ignore lint/suspicious/noExplicitAny: walking into API objects
type Any = any;

const targetQps = 50;
const loadPerSecond = 300;
const expectedReplicas = Math.ceil(loadPerSecond / targetQps); // 6
const triggerName = 'orders';
const functionName = 'order-fn';

let client: KubeClient;
let ns: string;
let sink: Sink;
let hub: HubProcess;
let targetsFile: string;

const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`;

async function replicas(): Promise<number> {
  const deployment = (await client.get(`/apis/apps/v1/namespaces/${ns}/deployments/${functionName}`)) as Any;
  return deployment.spec.replicas as number;
}

async function hpa(): Promise<Any> {
  return client.get(`/apis/autoscaling/v2/namespaces/${ns}/horizontalpodautoscalers/th-${triggerName}`);
}

/**
 * The delivered qps the HPA last read through the adapter, if it has read one. Its status shows the per-replica
 * average (the metric over the replicas it saw), so the whole is that times those replicas.
 */
function currentQps(status: Any): number | undefined {
  const metric = status?.currentMetrics?.find((m: Any) => m.type === 'External');
  const value = metric?.external?.current?.averageValue as string | undefined;
  if (value === undefined) return undefined;
  const perReplica = value.endsWith('m') ? Number(value.slice(0, -1)) / 1000 : Number(value);
  return perReplica * (status.currentReplicas as number);
}

beforeAll(async () => {
  await awaitBackgroundServices(['kube-controller-manager', 'prometheus-adapter']);
  const env = serviceEnv('TH_KUBECONFIG', 'TH_PROMETHEUS_TARGETS_DIR');
  client = kubeClient();
  await installTriggerCrd(client);
  ns = await createNamespace(client, 'hpa');
  sink = await startSink();
  // The function: one replica of a Deployment whose image never needs to pull (no node runs it).
  await client.request('POST', `/apis/apps/v1/namespaces/${ns}/deployments`, {
    body: {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: functionName, namespace: ns },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: functionName } },
        template: {
          metadata: { labels: { app: functionName } },
          spec: { containers: [{ name: 'fn', image: 'registry.invalid/order-fn:1' }] },
        },
      },
    },
  });
  const port = await freePort();
  hub = await spawnControllerHub(ns, port, { POD_NAMESPACE: ns });
  // Prometheus scrapes this hub's /metrics from now on (file_sd, refreshed every second).
  mkdirSync(env.TH_PROMETHEUS_TARGETS_DIR, { recursive: true });
  targetsFile = join(env.TH_PROMETHEUS_TARGETS_DIR, `${ns}.json`);
  writeFileSync(targetsFile, JSON.stringify([{ targets: [`127.0.0.1:${port}`], labels: { hub: ns } }]));
  await client.request('POST', triggersPath(ns), {
    body: {
      apiVersion: 'triggerhub.io/v1alpha1',
      kind: 'Trigger',
      metadata: { name: triggerName, namespace: ns },
      spec: {
        source: { webhook: {} },
        target: { http: { url: `${sink.url}/fn` } },
        scaling: { targetRef: { name: functionName }, targetQps, minReplicas: 1, maxReplicas: 10 },
      },
    },
  });
}, 45 * 60_000);

afterAll(async () => {
  if (targetsFile) rmSync(targetsFile, { force: true });
  hub?.child.kill('SIGTERM');
  await hub?.exited;
  await sink?.close();
  if (ns) await deleteNamespace(client, ns);
});

describe('HPA on qps, observed', () => {
  it(`scales the function from 1 to ${expectedReplicas} replicas at ${loadPerSecond} events/s (target ${targetQps}/s each) and back to 1 when the load stops`, async () => {
    // The hub (the status Lease holder) makes the HPA from spec.scaling.
    await waitFor(
      () =>
        hpa().then(
          () => true,
          () => false,
        ),
      60_000,
      'the HPA the hub makes',
    );
    expect(await replicas()).toBe(1);

    const timeline: string[] = [];
    const loadStart = Date.now();
    let loadRunning = true;
    const load = postAtRate(`${hub.url}/webhooks/${ns}/${triggerName}`, loadPerSecond, () => !loadRunning);

    // Up: the HPA raises the Deployment to ceil(qps / target) within a bounded time.
    let peak = 1;
    let peakQps: number | undefined;
    try {
      await waitFor(
        async () => {
          const now = await replicas();
          if (now !== peak) timeline.push(`${seconds(loadStart)}: replicas ${now}`);
          peak = Math.max(peak, now);
          peakQps = currentQps((await hpa()).status) ?? peakQps;
          return now >= expectedReplicas;
        },
        180_000,
        `replicas to reach ${expectedReplicas}`,
      );
      // Held under steady load: it neither overshoots nor flaps down while the qps stays.
      const holdUntil = Date.now() + 3 * 5_000;
      while (Date.now() < holdUntil) {
        peak = Math.max(peak, await replicas());
        await new Promise((r) => setTimeout(r, 1_000));
      }
      const held = await replicas();
      timeline.push(`${seconds(loadStart)}: holding at ${held} (HPA reads ${peakQps} events/s)`);
      expect(held).toBeGreaterThanOrEqual(expectedReplicas - 1);
      expect(peak).toBeLessThanOrEqual(expectedReplicas + 1);
    } finally {
      loadRunning = false;
    }
    const answers = await load;
    const loadStop = Date.now();
    timeline.push(`${seconds(loadStart)}: load stopped after ${answers.length} events`);
    expect(answers.filter((a) => a.status !== 202)).toEqual([]);
    expect(peakQps).toBeGreaterThan(loadPerSecond * 0.7);

    // Down: with no events the rate falls to 0 and, after the stabilization window, replicas return to min.
    await waitFor(
      async () => {
        const now = await replicas();
        if (!timeline.at(-1)?.endsWith(`replicas ${now}`))
          timeline.push(`${seconds(loadStart)}: replicas ${now}`);
        return now === 1;
      },
      180_000,
      'replicas back to 1',
    );
    timeline.push(
      `${seconds(loadStop)} after the load stopped: back to 1 (stabilization ${hpaTimings.downscaleStabilization})`,
    );
    console.log(`HPA on qps, timeline from load start:\n  ${timeline.join('\n  ')}`);

    // Every event the hub accepted reached the function.
    await sink.waitFor(() => sink.delivered.size >= answers.length, 60_000, 'every event delivered');
    expect(sink.delivered.size).toBe(answers.length);
  }, 600_000);
});
