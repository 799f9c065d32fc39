// Helpers for the kubernetes integration tests: a client on the service stack's kube-apiserver
// (TH_KUBECONFIG), throw-away namespaces and CRDs, and polling.

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { KubeClient, type KubeObject } from '../../src/controller/kube-client.ts';
import type { Hub } from '../../src/hub.ts';
import { redisUrl } from '../../test/support/hub.ts';

export function kubeClient(): KubeClient {
  if (!process.env.TH_KUBECONFIG) throw new Error('TH_KUBECONFIG is not set: run the integration project');
  return new KubeClient();
}

export async function waitUntil(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
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
  await waitUntil(
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

export interface ControllerProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

const cli = resolve(import.meta.dirname, '../../src/cli/main.ts');

/** Runs `trigger-hub run --kubernetes <namespaces>` as a child process; resolves once its Triggers are applied. */
export async function spawnControllerHub(
  namespaces: string,
  port: number,
  env: NodeJS.ProcessEnv = {},
): Promise<ControllerProcess> {
  const child = spawn(process.execPath, [cli, 'run', '--kubernetes', namespaces, '--port', String(port)], {
    env: {
      ...process.env,
      REDIS_URL: redisUrl(),
      LOG_LEVEL: 'info',
      TH_SHUTDOWN_DEADLINE_MS: '5000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolveExit) => child.on('exit', (code) => resolveExit(code)));
  try {
    await waitUntil(
      () => {
        if (child.exitCode !== null) throw new Error('the hub exited');
        return output.includes('"triggers applied"');
      },
      // A cold start loads the whole hub; on a loaded 2-core box that can take a while.
      120_000,
      'the controller hub to start',
    );
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}:\n${output}`);
  }
  return { child, output: () => output, exited };
}
