// Helpers for the kubernetes integration tests: a client on the service stack's kube-apiserver
// (TH_KUBECONFIG), throw-away namespaces and CRDs, and polling.

import { randomBytes } from 'node:crypto';
import { KubeClient, type KubeObject } from '../../src/controller/kube-client.ts';
import type { Hub } from '../../src/hub.ts';
import { type HubProcess, spawnHubProcess } from '../../test/support/hub.ts';
import { waitFor } from '../../test/support/wait.ts';

export function kubeClient(): KubeClient {
  if (!process.env.TH_KUBECONFIG) throw new Error('TH_KUBECONFIG is not set: run the integration project');
  return new KubeClient();
}

export async function createNamespace(client: KubeClient, prefix = 'k8s'): Promise<string> {
  const name = `${prefix}-${randomBytes(4).toString('hex')}`;
  await client.request('POST', '/api/v1/namespaces', {
    body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } },
  });
  return name;
}

/** No controllers run in the test stack, so a namespace stays Terminating; its objects are gone already. */
export async function deleteNamespace(client: KubeClient, name: string): Promise<void> {
  await client.request('DELETE', `/api/v1/namespaces/${name}`).catch(() => {});
}

export async function applyCrd(client: KubeClient, crd: KubeObject): Promise<void> {
  const name = crd.metadata!.name!;
  const path = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`;
  try {
    const existing = await client.get(path);
    await client.request('PUT', path, {
      body: { ...crd, metadata: { ...crd.metadata, resourceVersion: existing.metadata?.resourceVersion } },
    });
  } catch (error) {
    if ((error as { status?: number }).status !== 404) throw error;
    await client.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { body: crd });
  }
  await waitFor(
    async () => {
      const current = await client.get<{ status?: { conditions?: Array<{ type: string; status: string }> } }>(
        path,
      );
      return (
        current.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ?? false
      );
    },
    30_000,
    `CRD ${name} established`,
  );
}

/** True once the trigger's sensor reports it is connected to its source. */
export function sensorConnected(hub: Hub, key: string): boolean {
  return hub.engine.get(key)?.running?.health().connected ?? false;
}

export type ControllerProcess = HubProcess;

/** Runs `trigger-hub run --kubernetes <namespaces>` as a child process; resolves once its Triggers are applied. */
export function spawnControllerHub(
  namespaces: string,
  port: number,
  env: NodeJS.ProcessEnv = {},
): Promise<ControllerProcess> {
  return spawnHubProcess(['--kubernetes', namespaces], port, env, 120_000);
}
