// spec.scaling against the real kube-apiserver, with KEDA's real ScaledObject CRD installed: a Trigger's
// autoscaler (an HPA, or a KEDA ScaledObject) appears with the right spec and owner, follows every change of
// spec.scaling, and is deleted with the Trigger or its spec.scaling; only the Lease holder writes it, and it
// never takes over an object of the same name that it does not manage.

import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createNamespace,
  deleteNamespace,
  kubeClient,
  spawnControllerHub,
} from '../../../sensors/kubernetes/test-support.ts';
import { triggersPath } from '../../../src/controller/controller.ts';
import {
  isNotFound,
  type KubeApiError,
  type KubeClient,
  type KubeObject,
} from '../../../src/controller/kube-client.ts';
import type { TriggerStatus } from '../../../src/trigger/schema.ts';
import { installKedaCrd, installTriggerCrd, startTestController } from '../../support/controller.ts';
import { freePort, redisUrl } from '../../support/hub.ts';
import { waitFor } from '../../support/wait.ts';

// biome-ignore lint/suspicious/noExplicitAny: walking into API objects
type Any = any;

let client: KubeClient;
let redis: Redis;
const namespaces: string[] = [];
const prometheusUrl = 'http://prometheus-operated.monitoring.svc:9090';

const hpaPath = (ns: string, name = '') =>
  `/apis/autoscaling/v2/namespaces/${ns}/horizontalpodautoscalers${name ? `/${name}` : ''}`;
const scaledObjectPath = (ns: string, name = '') =>
  `/apis/keda.sh/v1alpha1/namespaces/${ns}/scaledobjects${name ? `/${name}` : ''}`;

beforeAll(async () => {
  client = kubeClient();
  redis = new Redis(redisUrl());
  await installTriggerCrd(client);
  await installKedaCrd(client);
});

afterAll(async () => {
  redis?.disconnect();
  for (const namespace of namespaces) await deleteNamespace(client, namespace);
});

async function namespace(): Promise<string> {
  const ns = await createNamespace(client, 'scale');
  namespaces.push(ns);
  return ns;
}

const startController = (ns: string) =>
  startTestController(client, redis, [ns], { retryPeriodMs: 300, resyncIntervalMs: 1_000, prometheusUrl });

function trigger(ns: string, name: string, scaling?: Record<string, unknown>): KubeObject {
  return {
    apiVersion: 'triggerhub.io/v1alpha1',
    kind: 'Trigger',
    metadata: { name, namespace: ns },
    spec: {
      source: { cron: { every: 3_600_000 } },
      target: { http: { url: 'http://127.0.0.1:9/fn' } },
      ...(scaling ? { scaling } : {}),
    },
  };
}

async function patchScaling(ns: string, name: string, scaling: Record<string, unknown> | null) {
  await client.request('PATCH', `${triggersPath(ns)}/${name}`, {
    body: { spec: { scaling } },
    contentType: 'application/merge-patch+json',
  });
}

/** Polls until `path` holds an object `predicate` accepts; fails with the last object seen. */
async function waitForObject(path: string, predicate: (object: Any) => boolean, what: string): Promise<Any> {
  let last: Any;
  await waitFor(
    async () => {
      last = await client.get(path).catch((error) => (isNotFound(error) ? undefined : Promise.reject(error)));
      return last !== undefined && predicate(last);
    },
    30_000,
    what,
  ).catch((error: Error) => {
    throw new Error(`${error.message}; last seen: ${JSON.stringify(last?.spec)}`);
  });
  return last;
}

async function waitForGone(path: string, what: string): Promise<void> {
  await waitFor(
    () =>
      client.get(path).then(
        () => false,
        (error) => (isNotFound(error) ? true : Promise.reject(error)),
      ),
    30_000,
    what,
  );
}

function condition(object: { status?: TriggerStatus }, type: string) {
  return object.status?.conditions?.find((c) => c.type === type);
}

describe('spec.scaling', () => {
  it('makes the HPA of a Trigger, follows its changes (to KEDA and back) and deletes it with spec.scaling or the Trigger', async () => {
    const ns = await namespace();
    const { close } = await startController(ns);
    try {
      const created = await client.request<KubeObject>('POST', triggersPath(ns), {
        body: trigger(ns, 'orders', {
          targetRef: { name: 'orders-fn' },
          minReplicas: 2,
          maxReplicas: 7,
          targetQps: 25,
        }),
      });
      const hpa = await waitForObject(hpaPath(ns, 'th-orders'), () => true, 'the HPA');
      expect(hpa.spec).toEqual({
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'orders-fn' },
        minReplicas: 2,
        maxReplicas: 7,
        metrics: [
          {
            type: 'External',
            external: {
              metric: {
                name: 'trigger_hub_events_delivered_per_second',
                selector: { matchLabels: { trigger_name: 'orders' } },
              },
              target: { type: 'AverageValue', averageValue: '25' },
            },
          },
        ],
      });
      expect(hpa.metadata.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'trigger-hub' });
      expect(hpa.metadata.annotations).toMatchObject({ 'triggerhub.io/trigger': `${ns}/orders` });
      expect(hpa.metadata.ownerReferences).toEqual([
        {
          apiVersion: 'triggerhub.io/v1alpha1',
          kind: 'Trigger',
          name: 'orders',
          uid: created.metadata?.uid,
          controller: true,
        },
      ]);
      await waitForObject(
        `${triggersPath(ns)}/orders`,
        (o) => condition(o, 'AutoscalerReady')?.reason === 'HorizontalPodAutoscalerApplied',
        'AutoscalerReady in the status',
      );

      // Update: a higher ceiling and a backlog target (a second metric).
      await patchScaling(ns, 'orders', { maxReplicas: 12, targetBacklog: 200 });
      const updated = await waitForObject(
        hpaPath(ns, 'th-orders'),
        (o) => o.spec.maxReplicas === 12,
        'the HPA updated',
      );
      expect(updated.metadata.uid).toBe(hpa.metadata.uid); // updated in place, not re-created
      expect(updated.spec.metrics[1].external).toEqual({
        metric: { name: 'trigger_hub_queue_backlog', selector: { matchLabels: { trigger_name: 'orders' } } },
        target: { type: 'AverageValue', averageValue: '200' },
      });

      // KEDA instead: the ScaledObject appears (validated by KEDA's own CRD schema), the HPA goes.
      await patchScaling(ns, 'orders', { provider: 'keda', minReplicas: 0 });
      const scaled = await waitForObject(scaledObjectPath(ns, 'th-orders'), () => true, 'the ScaledObject');
      expect(scaled.spec).toMatchObject({
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'orders-fn' },
        minReplicaCount: 0,
        maxReplicaCount: 12,
      });
      expect(scaled.spec.triggers).toEqual([
        {
          type: 'prometheus',
          name: 'delivered-qps',
          metadata: {
            serverAddress: prometheusUrl,
            query: `sum(rate(trigger_hub_events_delivered_total{trigger="${ns}/orders"}[2m]))`,
            threshold: '25',
          },
        },
        {
          type: 'prometheus',
          name: 'backlog',
          metadata: {
            serverAddress: prometheusUrl,
            query: `max(trigger_hub_queue_backlog{trigger="${ns}/orders"})`,
            threshold: '200',
          },
        },
      ]);
      await waitForGone(hpaPath(ns, 'th-orders'), 'the HPA to go');

      // spec.scaling removed: the ScaledObject goes, and so does the status condition.
      await patchScaling(ns, 'orders', null);
      await waitForGone(scaledObjectPath(ns, 'th-orders'), 'the ScaledObject to go');
      await waitForObject(
        `${triggersPath(ns)}/orders`,
        (o) => o.status?.conditions?.length > 0 && condition(o, 'AutoscalerReady') === undefined,
        'AutoscalerReady gone from the status',
      );

      // Back to an HPA, then the Trigger deleted: the HPA goes with it.
      await patchScaling(ns, 'orders', { targetRef: { name: 'orders-fn' } });
      await waitForObject(hpaPath(ns, 'th-orders'), () => true, 'the HPA again');
      await client.request('DELETE', `${triggersPath(ns)}/orders`);
      await waitForGone(hpaPath(ns, 'th-orders'), 'the HPA to go with its Trigger');
    } finally {
      await close();
    }
  });

  it('refuses minReplicas 0 for an HPA (the API server, by the CRD rule) naming the field', async () => {
    const ns = await namespace();
    const rejected = await client
      .request('POST', triggersPath(ns), {
        body: trigger(ns, 'zero', { targetRef: { name: 'fn' }, minReplicas: 0 }),
      })
      .then(
        () => undefined,
        (error: KubeApiError) => error,
      );
    expect(rejected?.status).toBe(422);
    expect(rejected?.message).toContain('spec.scaling');
    expect(rejected?.message).toContain('minReplicas 0 (scale to zero) needs provider keda');
  });

  it('writes no autoscaler while another replica holds the Lease, and writes it once it takes the Lease over', async () => {
    const ns = await namespace();
    // Another replica holds the Lease and keeps renewing it.
    const leasePath = `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/trigger-hub-status`;
    const renew = () => ({ renewTime: new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000Z') });
    await client.request('POST', `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`, {
      body: {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: 'trigger-hub-status', namespace: ns },
        spec: { holderIdentity: 'another-replica', leaseDurationSeconds: 2, ...renew() },
      },
    });
    const renewing = setInterval(() => {
      void client
        .request('PATCH', leasePath, { body: { spec: renew() }, contentType: 'application/merge-patch+json' })
        .catch(() => {});
    }, 300);
    await client.request('POST', triggersPath(ns), {
      body: trigger(ns, 'shipping', { targetRef: { name: 'shipping-fn' } }),
    });
    const { controller, close } = await startController(ns);
    try {
      // start() resolved after the first reconcile; let a few resyncs pass as a follower too.
      await new Promise((r) => setTimeout(r, 2_500));
      expect(controller.isLeader()).toBe(false);
      const hpas = await client.get<{ items: unknown[] }>(hpaPath(ns));
      expect(hpas.items).toEqual([]);

      clearInterval(renewing); // the other replica is gone: its Lease expires and this one takes it
      await waitFor(() => controller.isLeader(), 30_000, 'leadership');
      const hpa = await waitForObject(hpaPath(ns, 'th-shipping'), () => true, 'the HPA from the new leader');
      expect(hpa.spec.scaleTargetRef.name).toBe('shipping-fn');
    } finally {
      clearInterval(renewing);
      await close();
    }
  });

  it('a hub process in controller mode (the CLI) makes the ScaledObject with the Prometheus of TH_PROMETHEUS_URL', async () => {
    const ns = await namespace();
    const hub = await spawnControllerHub(ns, await freePort(), {
      POD_NAMESPACE: ns,
      TH_PROMETHEUS_URL: 'http://prometheus.example:9090',
    });
    try {
      await client.request('POST', triggersPath(ns), {
        body: trigger(ns, 'thumbnails', { provider: 'keda', targetRef: { name: 'thumbnailer' } }),
      });
      const scaled = await waitForObject(
        scaledObjectPath(ns, 'th-thumbnails'),
        () => true,
        'the ScaledObject',
      );
      expect(scaled.spec.triggers[0].metadata.serverAddress).toBe('http://prometheus.example:9090');
      expect(scaled.spec.minReplicaCount).toBe(1);
    } finally {
      hub.child.kill('SIGTERM');
      await hub.exited;
    }
  });

  it('never takes over an HPA of the same name that it does not manage, and says so in the status', async () => {
    const ns = await namespace();
    const own = {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'th-billing', namespace: ns },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'someone-elses' },
        minReplicas: 1,
        maxReplicas: 3,
        metrics: [
          {
            type: 'Resource',
            resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } },
          },
        ],
      },
    };
    await client.request('POST', hpaPath(ns), { body: own });
    const { close } = await startController(ns);
    try {
      await client.request('POST', triggersPath(ns), {
        body: trigger(ns, 'billing', { targetRef: { name: 'billing-fn' } }),
      });
      const refused = await waitForObject(
        `${triggersPath(ns)}/billing`,
        (o) => condition(o, 'AutoscalerReady')?.status === 'False',
        'AutoscalerReady=False',
      );
      expect(condition(refused, 'AutoscalerReady')?.message).toContain('not managed by trigger-hub');
      const untouched: Any = await client.get(hpaPath(ns, 'th-billing'));
      expect(untouched.spec.scaleTargetRef.name).toBe('someone-elses');
      // Deleting the Trigger leaves the foreign HPA alone.
      await client.request('DELETE', `${triggersPath(ns)}/billing`);
      await new Promise((r) => setTimeout(r, 2_000));
      expect(((await client.get(hpaPath(ns, 'th-billing'))) as Any).spec.scaleTargetRef.name).toBe(
        'someone-elses',
      );
    } finally {
      await close();
    }
  });
});
