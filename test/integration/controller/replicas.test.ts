// Three hub replicas in controller mode (`trigger-hub run --kubernetes <ns>`, real child processes) run the
// same kubernetes Trigger: each watch event is delivered once, and when the replica holding the status
// Lease is SIGKILLed another takes the Lease and nothing is missed.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { kubernetesEventId } from '../../../sensors/kubernetes/events.ts';
import {
  applyCrd,
  type ControllerProcess,
  createNamespace,
  deleteNamespace,
  kubeClient,
  spawnControllerHub,
} from '../../../sensors/kubernetes/test-support.ts';
import { triggersPath } from '../../../src/controller/controller.ts';
import type { KubeClient, KubeObject } from '../../../src/controller/kube-client.ts';
import { freePort } from '../../support/hub.ts';
import { startSink } from '../../support/sink.ts';
import { waitFor } from '../../support/wait.ts';

let client: KubeClient;
const namespaces: string[] = [];

beforeAll(async () => {
  client = kubeClient();
  const crd = parse(
    readFileSync(resolve(import.meta.dirname, '../../../deploy/crds/triggers.triggerhub.io.yaml'), 'utf8'),
  ) as KubeObject;
  await applyCrd(client, crd);
});

afterAll(async () => {
  for (const namespace of namespaces) await deleteNamespace(client, namespace);
});

describe('three replicas in controller mode', () => {
  it('deliver each watch event once; when the leader is killed another takes the Lease and nothing is missed', async () => {
    const ns = await createNamespace(client, 'rep');
    namespaces.push(ns);
    const sink = await startSink();
    const replicas: ControllerProcess[] = [];
    try {
      await client.request('POST', triggersPath(ns), {
        body: {
          apiVersion: 'triggerhub.io/v1alpha1',
          kind: 'Trigger',
          metadata: { name: 'configmaps', namespace: ns },
          spec: {
            source: { kubernetes: { kind: 'ConfigMap', namespace: ns, labelSelector: 'test=replicas' } },
            target: { http: { url: sink.url } },
          },
        },
      });
      for (let i = 0; i < 3; i++)
        replicas.push(await spawnControllerHub(ns, await freePort(), { POD_NAMESPACE: ns }));
      const lease = `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/trigger-hub-status`;
      const holder = async () =>
        (await client.get<{ spec: { holderIdentity?: string } }>(lease).catch(() => undefined))?.spec
          .holderIdentity;
      await waitFor(async () => Boolean(await holder()), 90_000, 'a leader');
      await waitFor(
        async () => {
          const trigger = await client.get<{
            status?: { conditions?: Array<{ type: string; status: string }> };
          }>(`${triggersPath(ns)}/configmaps`);
          return trigger.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
        },
        90_000,
        'Ready',
      );

      const change = async (from: number, count: number): Promise<string[]> => {
        const expected: string[] = [];
        for (let i = from; i < from + count; i++) {
          const created = await client.request<KubeObject>('POST', `/api/v1/namespaces/${ns}/configmaps`, {
            body: { metadata: { name: `cm-${i}`, labels: { test: 'replicas' } }, data: { n: String(i) } },
          });
          expected.push(
            kubernetesEventId(created.metadata!.uid!, created.metadata!.resourceVersion!, 'ADDED'),
          );
          const changed = await client.request<KubeObject>(
            'PATCH',
            `/api/v1/namespaces/${ns}/configmaps/cm-${i}`,
            {
              body: { data: { n: String(i), changed: 'yes' } },
              contentType: 'application/merge-patch+json',
            },
          );
          expected.push(
            kubernetesEventId(changed.metadata!.uid!, changed.metadata!.resourceVersion!, 'MODIFIED'),
          );
        }
        return expected;
      };

      const before = await change(0, 20);
      await sink.waitFor(() => before.every((id) => sink.delivered.has(id)), 90_000, 'the first 40 events');
      // Give the other replicas time to read the same changes: their writes must not add deliveries.
      await new Promise((r) => setTimeout(r, 1_500));
      expect(before.map((id) => sink.counts.get(id))).toEqual(before.map(() => 1));

      const leader = await holder();
      const index = replicas.findIndex((replica) => leader?.includes(`-${replica.child.pid}-`));
      expect(index).toBeGreaterThanOrEqual(0);
      replicas[index]!.child.kill('SIGKILL');
      await replicas[index]!.exited;

      const after = await change(20, 20);
      await sink.waitFor(
        () => after.every((id) => sink.delivered.has(id)),
        120_000,
        'the events after the kill',
      );
      // The Lease of the killed leader expires (15 s) and a survivor takes it.
      await waitFor(
        async () => {
          const now = await holder();
          return Boolean(now) && now !== leader;
        },
        90_000,
        'a new leader',
      );
    } finally {
      for (const replica of replicas) {
        replica.child.kill('SIGKILL');
        await replica.exited;
      }
      await sink.close();
    }
  }, 420_000);
});
