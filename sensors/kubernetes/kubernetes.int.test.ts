// The kubernetes sensor against the real kube-apiserver (and etcd) of the service stack: every change of a
// watched object is delivered, in order, with its watch type; nothing is lost across a hub restart or a
// SIGKILL (checked against the API server's own answers), and an expired resourceVersion relists and
// delivers the difference as synthetic events.

import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeClient, KubeObject } from '../../src/controller/kube-client.ts';

import { triggerStateKey } from '../../src/queue/keys.ts';
import {
  freePort,
  redisUrl,
  spawnHub,
  startTestHub,
  triggerDoc,
  uniqueNamespace,
  writeTriggerDir,
} from '../../test/support/hub.ts';
import { type Received, startSink } from '../../test/support/sink.ts';
import { waitFor } from '../../test/support/wait.ts';
import { kubernetesEventId } from './events.ts';
import { watchIdentity } from './sensor.ts';
import { kubernetesSpec } from './spec.ts';
import { applyCrd, createNamespace, deleteNamespace, kubeClient, sensorConnected } from './test-support.ts';

let client: KubeClient;
const namespaces: string[] = [];

beforeAll(async () => {
  client = kubeClient();
});

afterAll(async () => {
  for (const namespace of namespaces) await deleteNamespace(client, namespace);
});

async function namespace(): Promise<string> {
  const name = await createNamespace(client);
  namespaces.push(name);
  return name;
}

const cmPath = (ns: string) => `/api/v1/namespaces/${ns}/configmaps`;

/** Each call changes one ConfigMap and returns the id the resulting watch event must have. */
function configMaps(ns: string) {
  return {
    async create(name: string, data: Record<string, string>) {
      const object = await client.request<KubeObject>('POST', cmPath(ns), {
        body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data },
      });
      return kubernetesEventId(object.metadata!.uid!, object.metadata!.resourceVersion!, 'ADDED');
    },
    async update(name: string, data: Record<string, string>) {
      const object = await client.request<KubeObject>('PATCH', `${cmPath(ns)}/${name}`, {
        body: { data },
        contentType: 'application/merge-patch+json',
      });
      return kubernetesEventId(object.metadata!.uid!, object.metadata!.resourceVersion!, 'MODIFIED');
    },
    /**
     * A ConfigMap's DELETE answers with a Status that does not carry the deletion's resourceVersion, so the
     * deletion is found in what the sink received by uid and type.
     */
    async remove(name: string) {
      const object = await client.get(`${cmPath(ns)}/${name}`);
      await client.request('DELETE', `${cmPath(ns)}/${name}`);
      return deletionOf(object.metadata!.uid!);
    },
  };
}

/** Stands for the DELETED event of `uid` until a received id matches it (see `resolve`). */
function deletionOf(uid: string): string {
  return `k8s/${uid}/*/DELETED`;
}

/** Expected ids with deletions replaced by the id the sink received for them (if any). */
function resolveIds(expected: string[], sink: { received: Received[] }): string[] {
  return expected.map((id) => {
    if (!id.includes('/*/')) return id;
    const [prefix, suffix] = id.split('*');
    return sink.received.find((r) => r.id?.startsWith(prefix!) && r.id.endsWith(suffix!))?.id ?? id;
  });
}

function allDelivered(expected: string[], sink: { received: Received[]; delivered: Set<string> }): boolean {
  return resolveIds(expected, sink).every((id) => sink.delivered.has(id));
}

function json(received: Received): KubeObject {
  return JSON.parse(received.body.toString('utf8')) as KubeObject;
}

describe('kubernetes sensor', () => {
  it('delivers ConfigMap create, update and delete in order, with their watch types', async () => {
    const ns = await namespace();
    const sink = await startSink();
    const triggerNs = uniqueNamespace('k8s');
    const hub = await startTestHub([
      triggerDoc(triggerNs, 'configmaps', {
        source: { kubernetes: { kind: 'ConfigMap', namespace: ns } },
        target: { http: { url: sink.url, compatibility: 'fission' } },
        delivery: { concurrency: 1 },
      }),
    ]);
    try {
      await waitFor(() => sensorConnected(hub, `${triggerNs}/configmaps`), 60_000, 'the watch');
      const cm = configMaps(ns);
      const expected = [
        await cm.create('settings', { color: 'blue' }),
        await cm.update('settings', { color: 'green' }),
        await cm.update('settings', { color: 'red' }),
        await cm.remove('settings'),
      ];
      await sink.waitFor(() => allDelivered(expected, sink), 60_000, 'four events');
      expect(sink.received.map((r) => r.id)).toEqual(resolveIds(expected, sink));
      expect(sink.received.map((r) => r.headers['x-kubernetes-event-type'])).toEqual([
        'ADDED',
        'MODIFIED',
        'MODIFIED',
        'DELETED',
      ]);
      expect(sink.received.map((r) => r.headers['x-kubernetes-object-type'])).toEqual(
        Array(4).fill('ConfigMap'),
      );
      expect(sink.received.map((r) => (json(r).data as { color: string }).color)).toEqual([
        'blue',
        'green',
        'red',
        'red',
      ]);
      expect(sink.received[0]!.headers['ce-k8ssynthetic']).toBeUndefined();
    } finally {
      await hub.close();
      await sink.close();
    }
  });

  it('filters by label selector and event type and can send a reference only', async () => {
    const ns = await namespace();
    const sink = await startSink();
    const triggerNs = uniqueNamespace('k8s');
    const hub = await startTestHub([
      triggerDoc(triggerNs, 'labelled', {
        source: {
          kubernetes: {
            kind: 'ConfigMap',
            namespace: ns,
            labelSelector: 'app=web',
            eventTypes: ['ADDED', 'DELETED'],
            payload: 'reference',
          },
        },
        target: { http: { url: sink.url } },
        delivery: { concurrency: 1 },
      }),
    ]);
    try {
      await waitFor(() => sensorConnected(hub, `${triggerNs}/labelled`), 60_000, 'the watch');
      const web = await client.request<KubeObject>('POST', cmPath(ns), {
        body: { metadata: { name: 'web', labels: { app: 'web' } }, data: { a: '1' } },
      });
      await client.request('POST', cmPath(ns), { body: { metadata: { name: 'db', labels: { app: 'db' } } } });
      const cm = configMaps(ns);
      const modified = await cm.update('web', { a: '2' });
      const deleted = await cm.remove('web');
      await sink.waitFor(() => allDelivered([deleted], sink), 60_000, 'the deletion');
      const added = kubernetesEventId(web.metadata!.uid!, web.metadata!.resourceVersion!, 'ADDED');
      expect(sink.received.map((r) => r.id)).toEqual(resolveIds([added, deleted], sink));
      expect(sink.counts.has(modified)).toBe(false);
      expect(json(sink.received[0]!)).toEqual({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: {
          name: 'web',
          namespace: ns,
          uid: web.metadata!.uid,
          resourceVersion: web.metadata!.resourceVersion,
        },
      });
    } finally {
      await hub.close();
      await sink.close();
    }
  });

  it('keeps watching when the API server ends the watch request (resumed from the last version)', async () => {
    const ns = await namespace();
    const sink = await startSink();
    const triggerNs = uniqueNamespace('k8s');
    const hub = await startTestHub([
      triggerDoc(triggerNs, 'short-watches', {
        // The server ends each watch request after 7–13 s.
        source: { kubernetes: { kind: 'ConfigMap', namespace: ns, watchTimeoutSeconds: 10 } },
        target: { http: { url: sink.url } },
        delivery: { concurrency: 1 },
      }),
    ]);
    try {
      await waitFor(() => sensorConnected(hub, `${triggerNs}/short-watches`), 60_000, 'the watch');
      const cm = configMaps(ns);
      const expected = [await cm.create('a', { v: '1' })];
      await sink.waitFor(() => allDelivered(expected, sink), 60_000, 'the first event');
      // Outlive at least one server-side end of the watch.
      await new Promise((resolve) => setTimeout(resolve, 15_000));
      expected.push(await cm.update('a', { v: '2' }), await cm.remove('a'));
      await sink.waitFor(() => allDelivered(expected, sink), 60_000, 'the later events');
      expect(sink.received.map((r) => r.id)).toEqual(resolveIds(expected, sink));
    } finally {
      await hub.close();
      await sink.close();
    }
  });

  it('resumes from its checkpoint after a restart: changes made while it was down are delivered as real events', async () => {
    const ns = await namespace();
    const sink = await startSink();
    const triggerNs = uniqueNamespace('k8s');
    const doc = triggerDoc(triggerNs, 'resume', {
      source: { kubernetes: { kind: 'ConfigMap', namespace: ns } },
      target: { http: { url: sink.url } },
      delivery: { concurrency: 1 },
    });
    const cm = configMaps(ns);
    let hub = await startTestHub([doc]);
    let afterRestart: string[];
    try {
      await waitFor(() => sensorConnected(hub, `${triggerNs}/resume`), 60_000, 'the watch');
      const first = await cm.create('a', { v: '1' });
      await sink.waitFor(() => sink.delivered.has(first), 60_000, 'the first event');
      await hub.close();
      afterRestart = [
        await cm.update('a', { v: '2' }),
        await cm.create('b', { v: '1' }),
        await cm.remove('a'),
      ];
      hub = await startTestHub([doc]);
      await sink.waitFor(() => allDelivered(afterRestart, sink), 60_000, 'the missed events');
      expect(sink.received.map((r) => r.id)).toEqual(resolveIds([first, ...afterRestart], sink));
      // Resumed from the checkpoint, not relisted: nothing is marked synthetic.
      expect(sink.received.some((r) => r.headers['ce-k8ssynthetic'] !== undefined)).toBe(false);
    } finally {
      await hub.close();
      await sink.close();
    }
  });

  it('loses no change when the hub is SIGKILLed while objects change (checked against the API server)', async () => {
    const ns = await namespace();
    const sink = await startSink();
    const triggerNs = uniqueNamespace('k8s');
    const dir = writeTriggerDir([
      triggerDoc(triggerNs, 'crash', {
        source: { kubernetes: { kind: 'ConfigMap', namespace: ns } },
        target: { http: { url: sink.url } },
      }),
    ]);
    const cm = configMaps(ns);
    const expected: string[] = [];
    const port = await freePort();
    let hub = await spawnHub(dir, port);
    // The first list is done and the watch open once the sensor checkpointed a resourceVersion.
    const redis = new Redis(redisUrl());
    const identity = watchIdentity(kubernetesSpec.parse({ kind: 'ConfigMap', namespace: ns }));
    const rvKey = triggerStateKey({ key: `${triggerNs}/crash` }, 'k8s', identity, 'rv');
    try {
      await waitFor(async () => (await redis.get(rvKey)) !== null, 60_000, 'the first checkpoint');
      const changeSome = async (round: number) => {
        for (let i = 0; i < 10; i++) {
          const name = `cm-${round}-${i}`;
          expected.push(await cm.create(name, { round: String(round) }));
          expected.push(await cm.update(name, { round: String(round), changed: 'yes' }));
          if (i % 2 === 0) expected.push(await cm.remove(name));
        }
      };
      const changing = changeSome(1);
      await new Promise((resolve) => setTimeout(resolve, 150));
      hub.child.kill('SIGKILL');
      await hub.exited;
      await changing;
      await changeSome(2);
      hub = await spawnHub(dir, port);
      await changeSome(3);
      // An event in flight at the kill is delivered again once BullMQ finds its job stalled (about 30 s).
      await sink.waitFor(() => allDelivered(expected, sink), 200_000, `all ${expected.length} changes`);
      const missing = resolveIds(expected, sink).filter((id) => !sink.delivered.has(id));
      expect(missing).toEqual([]);
    } finally {
      hub.child.kill('SIGKILL');
      await hub.exited;
      redis.disconnect();
      await sink.close();
    }
  }, 400_000);

  it('relists after 410 Gone and delivers the difference as synthetic events, skipping nothing', async () => {
    // A CRD of its own: its watch cache starts now, so an older resourceVersion is really expired (410).
    const group = `t${randomBytes(4).toString('hex')}.triggerhub.test`;
    await applyCrd(client, {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: `widgets.${group}` },
      spec: {
        group,
        scope: 'Namespaced',
        names: { kind: 'Widget', plural: 'widgets', singular: 'widget', listKind: 'WidgetList' },
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
          },
        ],
      },
    });
    const ns = await namespace();
    const widgets = `/apis/${group}/v1/namespaces/${ns}/widgets`;
    const sink = await startSink();
    const triggerNs = uniqueNamespace('k8s');
    const source = { apiVersion: `${group}/v1`, kind: 'Widget', namespace: ns };
    const doc = triggerDoc(triggerNs, 'widgets', {
      source: { kubernetes: source },
      target: { http: { url: sink.url } },
      delivery: { concurrency: 1 },
    });
    const redis = new Redis(redisUrl());
    const rvKey = triggerStateKey(
      { key: `${triggerNs}/widgets` },
      'k8s',
      watchIdentity(kubernetesSpec.parse(source)),
      'rv',
    );
    const create = (name: string, size: number) =>
      client.request<KubeObject>('POST', widgets, {
        body: { apiVersion: `${group}/v1`, kind: 'Widget', metadata: { name }, size },
      });
    let hub = await startTestHub([doc]);
    try {
      await waitFor(() => sensorConnected(hub, `${triggerNs}/widgets`), 60_000, 'the watch');
      const kept = await create('kept', 1);
      const changed = await create('changed', 1);
      const gone = await create('gone', 1);
      const before = [kept, changed, gone].map((o) =>
        kubernetesEventId(o.metadata!.uid!, o.metadata!.resourceVersion!, 'ADDED'),
      );
      await sink.waitFor(() => before.every((id) => sink.delivered.has(id)), 60_000, 'the first events');
      await hub.close();

      const modified = await client.request<KubeObject>('PATCH', `${widgets}/changed`, {
        body: { size: 2 },
        contentType: 'application/merge-patch+json',
      });
      await client.request('DELETE', `${widgets}/gone`);
      const added = await create('new', 3);
      // The checkpoint is now a version the API server no longer serves (older than the watch cache).
      await redis.set(rvKey, '2');

      hub = await startTestHub([doc]);
      const expected = [
        kubernetesEventId(modified.metadata!.uid!, modified.metadata!.resourceVersion!, 'MODIFIED'),
        kubernetesEventId(added.metadata!.uid!, added.metadata!.resourceVersion!, 'ADDED'),
        kubernetesEventId(gone.metadata!.uid!, gone.metadata!.resourceVersion!, 'DELETED'),
      ];
      await sink.waitFor(() => expected.every((id) => sink.delivered.has(id)), 60_000, 'the differences');
      const relisted = sink.received.slice(3);
      expect(relisted.map((r) => r.id).sort()).toEqual([...expected].sort());
      expect(relisted.map((r) => r.headers['ce-k8ssynthetic'])).toEqual(['relist', 'relist', 'relist']);
      // The unchanged object is not re-sent, and the watch goes on from the relist's version.
      expect(sink.received.filter((r) => r.id?.includes(kept.metadata!.uid!))).toHaveLength(1);
      const later = await create('later', 4);
      const laterId = kubernetesEventId(later.metadata!.uid!, later.metadata!.resourceVersion!, 'ADDED');
      await sink.waitFor(() => sink.delivered.has(laterId), 60_000, 'an event after the relist');
      expect(sink.received.at(-1)!.headers['ce-k8ssynthetic']).toBeUndefined();
    } finally {
      await hub.close();
      await sink.close();
      redis.disconnect();
      await client
        .request('DELETE', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.${group}`)
        .catch(() => {});
    }
  });
});
