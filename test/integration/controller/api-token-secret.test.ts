// TH_API_TOKEN_SECRET on the stack's real kube-apiserver: a hub in controller mode (`trigger-hub run
// --kubernetes`, a real child process) makes its API token in a Secret of its namespace on the first start,
// guards /api with it, reads the same one on the next start, and uses a Secret that already exists as it is.
// Replicas racing to create it converge on one token.

import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ControllerProcess,
  createNamespace,
  deleteNamespace,
  kubeClient,
  spawnControllerHub,
} from '../../../sensors/kubernetes/test-support.ts';
import { apiTokenFromSecret } from '../../../src/controller/api-token-secret.ts';
import type { KubeClient } from '../../../src/controller/kube-client.ts';
import { HubError } from '../../../src/errors.ts';
import { installTriggerCrd } from '../../support/controller.ts';
import { freePort } from '../../support/hub.ts';

let client: KubeClient;
let namespace: string;
const hubs: ControllerProcess[] = [];

interface Secret {
  metadata: { resourceVersion: string; labels?: Record<string, string> };
  data?: Record<string, string>;
}

const secretPath = (name: string) => `/api/v1/namespaces/${namespace}/secrets/${name}`;
const tokenIn = (secret: Secret) => Buffer.from(secret.data!['api-token']!, 'base64').toString('utf8');

/** A controller-mode hub with TH_API_TOKEN_SECRET and no other token; stopped after the test file. */
async function startHub(secret: string): Promise<ControllerProcess> {
  const hub = await spawnControllerHub(namespace, await freePort(), {
    POD_NAMESPACE: namespace,
    TH_API_TOKEN_SECRET: secret,
    TH_API_TOKEN: '',
    TH_API_TOKEN_FILE: '',
  });
  hubs.push(hub);
  return hub;
}

async function stop(hub: ControllerProcess): Promise<void> {
  hub.child.kill('SIGTERM');
  await hub.exited;
}

const status = async (url: string, token?: string) =>
  (await fetch(`${url}/api/triggers`, token ? { headers: { authorization: `Bearer ${token}` } } : {})).status;

beforeAll(async () => {
  client = kubeClient();
  await installTriggerCrd(client);
  namespace = await createNamespace(client, 'token');
});

afterAll(async () => {
  for (const hub of hubs) if (hub.child.exitCode === null) hub.child.kill('SIGKILL');
  await deleteNamespace(client, namespace);
});

describe('the API token from a Secret (TH_API_TOKEN_SECRET)', () => {
  it('is made on the first start, guards /api, and is read again (not rotated) on the next start', async () => {
    const first = await startHub('hub-api-token');
    const secret = await client.get<Secret>(secretPath('hub-api-token'));
    const token = tokenIn(secret);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/); // 32 random bytes, base64url
    expect(secret.metadata.labels).toMatchObject({ 'app.kubernetes.io/created-by': 'trigger-hub' });
    expect(await status(first.url)).toBe(401);
    expect(await status(first.url, 'not-the-token')).toBe(401);
    expect(await status(first.url, token)).toBe(200);
    expect(first.output()).toContain('API token from Secret');
    expect(first.output()).not.toContain(token);
    await stop(first);

    const second = await startHub('hub-api-token');
    const again = await client.get<Secret>(secretPath('hub-api-token'));
    expect(again.metadata.resourceVersion).toBe(secret.metadata.resourceVersion);
    expect(await status(second.url)).toBe(401);
    expect(await status(second.url, token)).toBe(200);
    expect(second.output()).not.toContain(token);
    await stop(second);
  });

  it('uses a Secret that already exists as it is', async () => {
    await client.request('POST', `/api/v1/namespaces/${namespace}/secrets`, {
      body: { metadata: { name: 'made-by-hand' }, stringData: { 'api-token': 'a-token-of-my-own' } },
    });
    const before = await client.get<Secret>(secretPath('made-by-hand'));
    const hub = await startHub('made-by-hand');
    expect(await status(hub.url)).toBe(401);
    expect(await status(hub.url, 'a-token-of-my-own')).toBe(200);
    expect((await client.get<Secret>(secretPath('made-by-hand'))).metadata.resourceVersion).toBe(
      before.metadata.resourceVersion,
    );
    await stop(hub);
  });

  it('replicas racing to create it all end up with the one token that was stored', async () => {
    const log = pino({ level: 'silent' });
    const env = { POD_NAMESPACE: namespace, TH_API_TOKEN_SECRET: 'raced' };
    const tokens = await Promise.all(Array.from({ length: 6 }, () => apiTokenFromSecret(env, log, client)));
    const stored = tokenIn(await client.get<Secret>(secretPath('raced')));
    expect(tokens).toEqual(Array(6).fill(stored));
  });

  it('refuses, without printing a value, a Secret that has no api-token key; a hub does not start on it', async () => {
    await client.request('POST', `/api/v1/namespaces/${namespace}/secrets`, {
      body: { metadata: { name: 'wrong-key' }, stringData: { token: 'secret-value-here' } },
    });
    const log = pino({ level: 'silent' });
    const error = await apiTokenFromSecret(
      { POD_NAMESPACE: namespace, TH_API_TOKEN_SECRET: 'wrong-key' },
      log,
      client,
    ).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(HubError);
    expect(error).toMatchObject({ code: 'TH_ERR_CONFIG' });
    expect((error as Error).message).toContain(`Secret ${namespace}/wrong-key`);
    expect((error as Error).message).not.toContain('secret-value-here');
    await expect(startHub('wrong-key')).rejects.toThrow(/no non-empty key "api-token"/);
  });
});
