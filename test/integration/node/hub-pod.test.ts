// The hub as a Pod on a real node: a private one-node cluster (kubelet + Debian's containerd and runc,
// kube-scheduler, kube-controller-manager, its own etcd and kube-apiserver: scripts/services/node.ts), the
// locally built image imported into containerd, and the Helm chart installed with the real helm in
// controller mode with its own ServiceAccount. hostNetwork on 127.0.0.1, so no traffic leaves loopback.
// A function Pod (the same image, a small `node -e` HTTP server) is the target of a Trigger custom resource;
// webhook events posted to the hub Pod must all reach it. Nothing here uses the shared service stack: run
// it with `TH_SERVICES=none npx vitest run --project integration test/integration/node`.

import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureHelm, helmCommand } from '../../../scripts/helm.ts';
import { ensureImage } from '../../../scripts/services/image.ts';
import { createInstance, type Instance } from '../../../scripts/services/instance.ts';
import { freePort } from '../../../scripts/services/lib/probe.ts';
import { type NodeCluster, startNode } from '../../../scripts/services/node.ts';
import { triggerDoc } from '../../support/hub.ts';
import { postMany } from '../../support/post.ts';
import { waitFor } from '../../support/wait.ts';

const chart = resolve(import.meta.dirname, '../../../deploy/helm/trigger-hub');
const namespace = 'th-node';
const release = 'th';
const trigger = 'hook';
const events = 50;

/** The function: records every POST, answers GET with what it recorded. */
const FUNCTION_JS = `
const http = require('node:http');
const received = [];
http.createServer((req, res) => {
  let body = '';
  req.on('data', (chunk) => { body += chunk; });
  req.on('end', () => {
    if (req.method === 'POST') {
      received.push({ headers: req.headers, body });
      res.writeHead(200).end('ok');
    } else {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(received));
    }
  });
}).listen(Number(process.argv[1]), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`;

interface PodStatus {
  metadata: { name: string; deletionTimestamp?: string };
  spec: { nodeName?: string };
  status?: {
    phase?: string;
    conditions?: Array<{ type: string; status: string }>;
    containerStatuses?: Array<{ restartCount: number; state?: Record<string, unknown> }>;
  };
}

const podReady = (pod: PodStatus) =>
  !pod.metadata.deletionTimestamp &&
  (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

describe('the hub as a Pod on a one-node cluster (kubelet + containerd), installed by the chart', () => {
  let node: NodeCluster;
  let redis: Instance;
  let helm: string;
  let image: string;
  let hubPort: number;
  let functionPort: number;
  const timings: Record<string, number> = {};

  beforeAll(async () => {
    const t0 = Date.now();
    [image, helm] = await Promise.all([ensureImage().then((info) => info.image), ensureHelm()]);
    timings.imageAndHelm = Date.now() - t0;
    node = await startNode({ prefix: 'hubpod', images: [image] });
    redis = await createInstance('redis', join(node.dir, 'redis'), 'hubpod');
    node.track(redis);
    await redis.start();
    [hubPort, functionPort] = [await freePort(), await freePort()];
    timings.beforeAll = Date.now() - t0;
  }, 1_800_000);

  afterAll(async () => {
    console.log(`timings (ms): ${JSON.stringify({ ...node?.timings, ...timings })}`);
    await node?.stop();
  }, 120_000);

  /** The Pods of a label selector in the namespace. */
  async function pods(selector: string): Promise<PodStatus[]> {
    const { body } = await node.api<{ items: PodStatus[] }>(
      'GET',
      `/api/v1/namespaces/${namespace}/pods?labelSelector=${encodeURIComponent(selector)}`,
    );
    return body.items ?? [];
  }

  async function podLogs(name: string): Promise<string> {
    const { body } = await node.api<string>(
      'GET',
      `/api/v1/namespaces/${namespace}/pods/${name}/log?tailLines=40`,
    );
    return typeof body === 'string' ? body : JSON.stringify(body);
  }

  /** What went wrong, for a failure message: the Pods, their logs, the end of kubelet's log. */
  async function diagnose(selector: string): Promise<string> {
    const lines: string[] = [];
    for (const pod of await pods(selector).catch(() => [])) {
      lines.push(`--- pod ${pod.metadata.name}: ${JSON.stringify(pod.status).slice(0, 1500)}`);
      lines.push(await podLogs(pod.metadata.name).catch((e: Error) => e.message));
    }
    const { body } = await node.api<{ items: Array<{ reason: string; message: string }> }>(
      'GET',
      `/api/v1/namespaces/${namespace}/events`,
    );
    lines.push(...(body.items ?? []).slice(-15).map((e) => `event ${e.reason}: ${e.message}`));
    lines.push(
      `--- kubelet log:\n${readFileSync(node.logs.kubelet, 'utf8').split('\n').slice(-30).join('\n')}`,
    );
    return lines.join('\n');
  }

  async function waitReady(selector: string, what: string, timeoutMs = 120_000): Promise<PodStatus> {
    let ready: PodStatus | undefined;
    try {
      await waitFor(
        async () => {
          ready = (await pods(selector)).find(podReady);
          return ready !== undefined;
        },
        timeoutMs,
        what,
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${await diagnose(selector)}`);
    }
    return ready!;
  }

  it('installs from the chart, becomes Ready, runs its Trigger and delivers every webhook event to a function Pod', async () => {
    const created = await node.api('POST', '/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: namespace },
    });
    expect(created.status).toBe(201);

    // The function: scheduled by kube-scheduler onto the node, on 127.0.0.1 in the host's network.
    let t = Date.now();
    const fn = await node.api('POST', `/api/v1/namespaces/${namespace}/pods`, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'function', labels: { app: 'function' } },
      spec: {
        hostNetwork: true,
        automountServiceAccountToken: false,
        terminationGracePeriodSeconds: 5,
        containers: [
          {
            name: 'function',
            image,
            imagePullPolicy: 'Never',
            command: ['node', '-e', FUNCTION_JS, String(functionPort)],
            readinessProbe: {
              httpGet: { host: '127.0.0.1', port: functionPort, path: '/' },
              periodSeconds: 1,
            },
          },
        ],
      },
    });
    expect(fn.status).toBe(201);
    await waitReady('app=function', 'the function Pod to be Ready');
    timings.functionReady = Date.now() - t;
    const functionUrl = `http://127.0.0.1:${functionPort}`;

    // The hub, from the chart: controller mode, its ServiceAccount's token, the private API server.
    t = Date.now();
    const values: Record<string, string> = {
      'image.repository': image.slice(0, image.lastIndexOf(':')),
      'image.pullPolicy': 'Never',
      replicas: '1',
      hostNetwork: 'true',
      containerPort: String(hubPort),
      probeHost: '127.0.0.1',
      'podDisruptionBudget.enabled': 'false',
      shutdownDeadlineMs: '5000',
    };
    const strings: Record<string, string> = {
      'image.tag': image.slice(image.lastIndexOf(':') + 1),
      'redis.url': redis.url,
      // Listen on loopback only; reach the API server there (the kubernetes Service's ClusterIP needs a kube-proxy).
      'extraEnv[0].name': 'TH_HOST',
      'extraEnv[0].value': '127.0.0.1',
      'extraEnv[1].name': 'KUBERNETES_SERVICE_HOST',
      'extraEnv[1].value': '127.0.0.1',
      'extraEnv[2].name': 'KUBERNETES_SERVICE_PORT',
      'extraEnv[2].value': String(node.apiserverPort),
    };
    const args = ['install', release, chart, '--namespace', namespace];
    for (const [key, value] of Object.entries(values)) args.push('--set', `${key}=${value}`);
    for (const [key, value] of Object.entries(strings)) args.push('--set-string', `${key}=${value}`);
    await helmCommand(helm, args, node.kubeconfig);
    const selector = `app.kubernetes.io/instance=${release}`;
    const hubPod = await waitReady(selector, 'the hub Pod to be Ready (the chart readiness probe)');
    timings.hubPodReady = Date.now() - t;
    expect(hubPod.spec.nodeName).toBe('localhost');
    const hubUrl = `http://127.0.0.1:${hubPort}`;
    const readyz = (await (await fetch(`${hubUrl}/readyz`)).json()) as { status: string; redis: string };
    expect(readyz).toMatchObject({ status: 'ready', redis: 'ok' });

    // The Trigger custom resource: the hub in the Pod watches it and reports its status.
    t = Date.now();
    const doc = triggerDoc(namespace, trigger, {
      source: { webhook: {} },
      target: { http: { url: functionUrl } },
      delivery: { concurrency: 8, retries: 5, timeoutMs: 10_000 },
    });
    const applied = await node.api(
      'POST',
      `/apis/triggerhub.io/v1alpha1/namespaces/${namespace}/triggers`,
      doc,
    );
    expect(applied.status).toBe(201);
    let conditions: unknown;
    try {
      await waitFor(
        async () => {
          const { body } = await node.api<{
            status?: { conditions?: Array<{ type: string; status: string }> };
          }>('GET', `/apis/triggerhub.io/v1alpha1/namespaces/${namespace}/triggers/${trigger}`);
          conditions = body.status?.conditions;
          return (body.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
        },
        60_000,
        'the Trigger to report Ready',
      );
    } catch (error) {
      throw new Error(
        `${(error as Error).message}: ${JSON.stringify(conditions)}\n${await diagnose(selector)}`,
      );
    }
    timings.triggerReady = Date.now() - t;

    // Webhook events into the hub Pod; every one reaches the function Pod.
    t = Date.now();
    const answers = await postMany(`${hubUrl}/webhooks/${namespace}/${trigger}`, events, {
      concurrency: 8,
      bodyFor: (i) => ({ seq: i }),
    });
    expect(answers.map((a) => a.status)).toEqual(new Array(events).fill(202));
    let seqs = new Set<number>();
    await waitFor(
      async () => {
        const received = (await (await fetch(functionUrl)).json()) as Array<{ body: string }>;
        seqs = new Set(received.map((r) => (JSON.parse(r.body) as { seq: number }).seq));
        return seqs.size === events;
      },
      60_000,
      `all ${events} events at the function Pod`,
    );
    timings.delivery = Date.now() - t;
    expect([...seqs].sort((a, b) => a - b)).toEqual([...Array(events).keys()]);
    const received = (await (await fetch(functionUrl)).json()) as Array<{ headers: Record<string, string> }>;
    expect(received[0]!.headers['ce-source']).toContain(`${namespace}/${trigger}`);

    // Deleting the hub Pod: a clean SIGTERM shutdown (well within the grace period), and its Deployment's
    // replacement becomes Ready.
    t = Date.now();
    const deleted = await node.api('DELETE', `/api/v1/namespaces/${namespace}/pods/${hubPod.metadata.name}`);
    expect(deleted.status).toBe(200);
    await waitFor(
      async () =>
        (await node.api('GET', `/api/v1/namespaces/${namespace}/pods/${hubPod.metadata.name}`)).status ===
        404,
      30_000,
      'the deleted hub Pod to be gone',
    );
    timings.hubPodDeleted = Date.now() - t;
    // Graceful: gone well before the chart's grace period (shutdownDeadlineMs + 20 s) would force it.
    expect(timings.hubPodDeleted).toBeLessThan(20_000);
    const replacement = await waitReady(selector, 'the replacement hub Pod to be Ready');
    expect(replacement.metadata.name).not.toBe(hubPod.metadata.name);
    timings.replacementReady = Date.now() - t;
    console.log(`hub Pod timings (ms): ${JSON.stringify(timings)}`);
  }, 600_000);
});
