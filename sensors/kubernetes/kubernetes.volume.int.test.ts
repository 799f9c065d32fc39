// 1,000 ConfigMaps created, updated and deleted while the hub watches: every change is delivered, and per
// object in the order the API server made them.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeClient, KubeObject } from '../../src/controller/kube-client.ts';

import { startTestHub, triggerDoc, uniqueNamespace } from '../../test/support/hub.ts';
import { startSink } from '../../test/support/sink.ts';
import { waitFor } from '../../test/support/wait.ts';
import { kubernetesEventId } from './events.ts';
import { createNamespace, deleteNamespace, kubeClient, sensorConnected } from './test-support.ts';

let client: KubeClient;
let ns: string;

beforeAll(async () => {
  client = kubeClient();
  ns = await createNamespace(client, 'vol');
});

afterAll(async () => {
  await deleteNamespace(client, ns);
});

describe('kubernetes sensor under volume', () => {
  it('delivers every create, update and delete of 1,000 ConfigMaps, in order per object', async () => {
    const sink = await startSink();
    const triggerNs = uniqueNamespace('vol');
    const hub = await startTestHub([
      triggerDoc(triggerNs, 'configmaps', {
        source: { kubernetes: { kind: 'ConfigMap', namespace: ns, payload: 'reference' } },
        target: { http: { url: sink.url } },
        // One delivery at a time: the queue's order is the watch's order.
        delivery: { concurrency: 1 },
      }),
    ]);
    const path = `/api/v1/namespaces/${ns}/configmaps`;
    const total = 1000;
    /** uid → the ids of its changes, in the order the API server made them (deletions by uid and type). */
    const history = new Map<string, string[]>();
    try {
      await waitFor(() => sensorConnected(hub, `${triggerNs}/configmaps`), 60_000, 'the watch');
      const lifecycle = async (i: number) => {
        const created = await client.request<KubeObject>('POST', path, {
          body: { metadata: { name: `cm-${i}` }, data: { n: String(i) } },
        });
        const uid = created.metadata!.uid!;
        const updated = await client.request<KubeObject>('PATCH', `${path}/cm-${i}`, {
          body: { data: { n: String(i), updated: 'yes' } },
          contentType: 'application/merge-patch+json',
        });
        await client.request('DELETE', `${path}/cm-${i}`);
        history.set(uid, [
          kubernetesEventId(uid, created.metadata!.resourceVersion!, 'ADDED'),
          kubernetesEventId(uid, updated.metadata!.resourceVersion!, 'MODIFIED'),
          `DELETED:${uid}`,
        ]);
      };
      // Ten writers in parallel, each object's three changes in sequence.
      let next = 0;
      await Promise.all(
        Array.from({ length: 10 }, async () => {
          while (next < total) await lifecycle(next++);
        }),
      );
      expect(history.size).toBe(total);
      // Generous: one delivery at a time on a loaded 2-core box takes minutes.
      await sink.waitFor(() => sink.delivered.size >= total * 3, 400_000, `${total * 3} events`);
      const received = new Map<string, string[]>();
      for (const r of sink.received) {
        const uid = r.id!.split('/')[1]!;
        received.set(uid, [...(received.get(uid) ?? []), r.id!]);
      }
      for (const [uid, expected] of history) {
        const got = (received.get(uid) ?? []).filter((id, index, all) => all.indexOf(id) === index);
        expect(got.slice(0, 2)).toEqual(expected.slice(0, 2));
        expect(got[2]).toMatch(new RegExp(`^k8s/${uid}/\\d+/DELETED$`));
        expect(got).toHaveLength(3);
      }
    } finally {
      await hub.close();
      await sink.close();
    }
  }, 600_000);
});
