// The one-command installs on the stack's real kube-apiserver: `helm install` of deploy/helm/trigger-hub with its
// default values (its own Redis, a generated API token), and deploy/install.yaml (the same chart rendered for
// `kubectl apply -f`) applied for real with server-side apply, then removed. The API server has no nodes, so no
// pod ever runs: the tests check the objects, and run the hub's token code as the chart's ServiceAccount.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  AuthorizationV1Api,
  KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  PatchStrategy,
} from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { ensureHelm, helmCommand, helmTemplate } from '../../../scripts/helm.ts';
import {
  installNamespace,
  installRelease,
  installYamlPath,
  renderInstallYaml,
} from '../../../scripts/render-install.ts';
import { apiTokenFromSecret } from '../../../src/controller/api-token-secret.ts';
import { isNotFound, KubeClient, loadKubeConfig } from '../../../src/controller/kube-client.ts';
import { serviceEnv } from '../../setup/env.ts';
import { uniqueNamespace } from '../../support/hub.ts';
import { waitFor } from '../../support/wait.ts';

const root = resolve(import.meta.dirname, '../../..');
const chart = resolve(root, 'deploy/helm/trigger-hub');
const appVersion = String((parse(readFileSync(resolve(chart, 'Chart.yaml'), 'utf8')) as Any).appVersion);

// biome-ignore lint/suspicious/noExplicitAny: walking into rendered YAML and API objects
type Any = any;

function parseManifests(yaml: string): Any[] {
  return parseAllDocuments(yaml)
    .map((document) => document.toJS())
    .filter((manifest) => manifest?.kind);
}

const envOf = (container: Any): Record<string, Any> =>
  Object.fromEntries(
    (container.env as Array<{ name: string; value?: string; valueFrom?: unknown }>).map((item) => [
      item.name,
      item.value ?? item.valueFrom,
    ]),
  );

/** The Redis settings the chart's StatefulSet passes on the command line, as name → value. */
function redisArgs(statefulSet: Any): Record<string, string> {
  const args: string[] = statefulSet.spec.template.spec.containers[0].args;
  const out: Record<string, string> = {};
  for (let i = 0; i < args.length; i += 2) out[args[i]!.replace(/^--/, '')] = args[i + 1]!;
  return out;
}

function labelsMatch(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

let helm: string;
let kubeconfig: string;
let kc: KubeConfig;
let client: KubeClient;
let objects: KubernetesObjectApi;

beforeAll(async () => {
  helm = await ensureHelm();
  kubeconfig = serviceEnv('TH_KUBECONFIG').TH_KUBECONFIG;
  kc = loadKubeConfig(kubeconfig);
  client = new KubeClient(kc);
  objects = KubernetesObjectApi.makeApiClient(kc);
}, 1_800_000);

/** A client that is the ServiceAccount: a real token from the TokenRequest API. */
async function clientAs(namespace: string, serviceAccount: string): Promise<KubeClient> {
  const request = await client.request<{ status: { token: string } }>(
    'POST',
    `/api/v1/namespaces/${namespace}/serviceaccounts/${serviceAccount}/token`,
    {
      body: {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: { expirationSeconds: 600 },
      },
    },
  );
  const cluster = kc.getCurrentCluster()!;
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [cluster],
    users: [{ name: serviceAccount, token: request.status.token }],
    contexts: [{ name: serviceAccount, cluster: cluster.name, user: serviceAccount }],
    currentContext: serviceAccount,
  });
  return new KubeClient(config);
}

/**
 * Empties a namespace (every namespaced collection the API server serves: the stack's controllers make
 * ReplicaSets and Pods, the hub its Secret) and deletes it. The stack runs no namespace controller, so the
 * empty namespace is then finalized by hand, and the next run can make it again.
 */
async function removeNamespace(name: string): Promise<void> {
  const groups = await client.get<{ groups: Array<{ preferredVersion: { groupVersion: string } }> }>('/apis');
  const versions = ['v1', ...groups.groups.map((group) => group.preferredVersion.groupVersion)];
  for (const version of versions) {
    const base = version === 'v1' ? '/api/v1' : `/apis/${version}`;
    const list = await client
      .get<{ resources: Array<{ name: string; namespaced: boolean; verbs: string[] }> }>(base)
      .catch(() => undefined); // an aggregated API that is not answering
    for (const resource of list?.resources ?? [])
      if (resource.namespaced && !resource.name.includes('/') && resource.verbs.includes('deletecollection'))
        await client.request('DELETE', `${base}/namespaces/${name}/${resource.name}`).catch(() => {});
  }
  const path = `/api/v1/namespaces/${name}`;
  await client.request('DELETE', path).catch(() => {});
  const gone = () =>
    client.get(path).then(
      () => false,
      (error) => isNotFound(error),
    );
  try {
    await waitFor(gone, 3_000, `namespace ${name} deleted`, { intervalMs: 250 });
  } catch {
    await client.request('PUT', `${path}/finalize`, {
      body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name }, spec: { finalizers: [] } },
    });
    await waitFor(gone, 15_000, `namespace ${name} finalized`, { intervalMs: 250 });
  }
}

describe('helm install with the default values', () => {
  const namespace = uniqueNamespace('install');
  const release = namespace; // cluster-scoped RBAC objects are named after the release: unique per run
  const fullname = `${release}-trigger-hub`;
  let installed = false;

  afterAll(async () => {
    if (installed)
      await helmCommand(helm, ['uninstall', release, '--namespace', namespace], kubeconfig).catch(() => {});
    await removeNamespace(namespace);
  });

  it('brings up the hub with its own Redis (StatefulSet, AOF, a volume) and a generated API token', async () => {
    const notes = await helmCommand(
      helm,
      ['install', release, chart, '--namespace', namespace, '--create-namespace'],
      kubeconfig,
    );
    installed = true;
    expect(notes).toContain('STATUS: deployed');
    expect(notes).toContain(
      `kubectl -n ${namespace} get secret ${fullname}-api-token -o jsonpath='{.data.api-token}' | base64 -d`,
    );

    const apps = `/apis/apps/v1/namespaces/${namespace}`;
    const statefulSet = await client.get<Any>(`${apps}/statefulsets/${fullname}-redis`);
    expect(statefulSet.spec.replicas).toBe(1);
    expect(redisArgs(statefulSet)).toMatchObject({
      appendonly: 'yes',
      appendfsync: 'everysec',
      'maxmemory-policy': 'noeviction',
      dir: '/data',
    });
    const redisPod = statefulSet.spec.template.spec;
    expect(redisPod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 999, fsGroup: 999 });
    const redis = redisPod.containers[0];
    expect(redis.image).toBe('docker.io/library/redis:7.4-bookworm');
    expect(redis.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
    });
    expect(redis.volumeMounts).toEqual([{ name: 'data', mountPath: '/data' }]);
    expect(redis.livenessProbe.exec.command).toEqual(['redis-cli', 'ping']);
    expect(redis.readinessProbe.exec.command).toEqual(['redis-cli', 'ping']);
    expect(redis.resources.limits.memory).toBeDefined();
    expect(statefulSet.spec.volumeClaimTemplates).toHaveLength(1);
    expect(statefulSet.spec.volumeClaimTemplates[0]).toMatchObject({
      metadata: { name: 'data' },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '8Gi' } } },
    });
    const headless = await client.get<Any>(
      `/api/v1/namespaces/${namespace}/services/${fullname}-redis-headless`,
    );
    expect(headless.spec.clusterIP).toBe('None');
    expect(statefulSet.spec.serviceName).toBe(`${fullname}-redis-headless`);

    // The hub reaches Redis through the chart's Service, which selects the Redis pod (and the hub's does not).
    const redisService = await client.get<Any>(`/api/v1/namespaces/${namespace}/services/${fullname}-redis`);
    expect(redisService.spec.type).toBe('ClusterIP');
    expect(redisService.spec.ports).toMatchObject([{ port: 6379 }]);
    const redisLabels = statefulSet.spec.template.metadata.labels;
    expect(labelsMatch(redisService.spec.selector, redisLabels)).toBe(true);
    const hubService = await client.get<Any>(`/api/v1/namespaces/${namespace}/services/${fullname}`);
    expect(labelsMatch(hubService.spec.selector, redisLabels)).toBe(false);

    const deployment = await client.get<Any>(`${apps}/deployments/${fullname}`);
    const hub = deployment.spec.template.spec.containers[0];
    expect(labelsMatch(hubService.spec.selector, deployment.spec.template.metadata.labels)).toBe(true);
    expect(hub.image).toBe(`ghcr.io/trigger-hub/trigger-hub:${appVersion}`);
    const env = envOf(hub);
    expect(env.REDIS_URL).toBe(`redis://${fullname}-redis:6379`);
    expect(env.TH_API_TOKEN_SECRET).toBe(`${fullname}-api-token`);
    expect(env.POD_NAMESPACE).toMatchObject({ fieldRef: { fieldPath: 'metadata.namespace' } });
    // No open API: no token value and no empty TH_API_TOKEN anywhere.
    expect(env).not.toHaveProperty('TH_API_TOKEN');
    expect(env).not.toHaveProperty('TH_API_TOKEN_FILE');
  });

  it("lets the hub's ServiceAccount make its token Secret and read it, and no more; the hub's code does it", async () => {
    const authorization = kc.makeApiClient(AuthorizationV1Api);
    const user = `system:serviceaccount:${namespace}:${fullname}`;
    const can = async (attributes: Record<string, string>) =>
      (
        await authorization.createSubjectAccessReview({
          body: { spec: { user, groups: ['system:serviceaccounts'], resourceAttributes: attributes } },
        })
      ).status?.allowed === true;
    expect(await can({ resource: 'secrets', verb: 'create', namespace })).toBe(true);
    expect(await can({ resource: 'secrets', verb: 'get', namespace, name: `${fullname}-api-token` })).toBe(
      true,
    );
    expect(await can({ resource: 'secrets', verb: 'create', namespace: 'shop' })).toBe(false);
    expect(await can({ resource: 'secrets', verb: 'list', namespace })).toBe(false);
    expect(await can({ resource: 'secrets', verb: 'update', namespace, name: `${fullname}-api-token` })).toBe(
      false,
    );

    // What a hub pod does at its first start, as that ServiceAccount; the second start reads the same token.
    const asHub = await clientAs(namespace, fullname);
    const env = { POD_NAMESPACE: namespace, TH_API_TOKEN_SECRET: `${fullname}-api-token` };
    const log = pino({ level: 'silent' });
    const token = await apiTokenFromSecret(env, log, asHub);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await apiTokenFromSecret(env, log, asHub)).toBe(token);
    const secret = await client.get<Any>(`/api/v1/namespaces/${namespace}/secrets/${fullname}-api-token`);
    expect(Buffer.from(secret.data['api-token'], 'base64').toString()).toBe(token);
  });

  it('runs no Redis of its own when pointed at one, and refuses to render with no Redis at all', async () => {
    const others: Array<Record<string, string>> = [
      { 'redis.url': 'redis://x:6379' },
      { 'redis.existingSecret': 'my-redis' },
      { 'redis.clusterNodes[0]': 'redis-0:6379' },
    ];
    for (const set of others) {
      const manifests = parseManifests(await helmTemplate(helm, chart, { release, namespace, set }));
      const kinds = manifests.map((manifest) => manifest.kind);
      expect(kinds, JSON.stringify(set)).not.toContain('StatefulSet');
      expect(kinds, JSON.stringify(set)).not.toContain('NetworkPolicy');
      expect(
        manifests.filter((manifest) => manifest.kind === 'Service').map((service) => service.metadata.name),
      ).toEqual([fullname]);
    }
    const [url] = parseManifests(
      await helmTemplate(helm, chart, { release, namespace, set: { 'redis.url': 'redis://x:6379' } }),
    ).filter((manifest) => manifest.kind === 'Deployment');
    expect(envOf(url.spec.template.spec.containers[0]).REDIS_URL).toBe('redis://x:6379');
    await expect(
      helmTemplate(helm, chart, { release, namespace, set: { 'redis.enabled': 'false' } }),
    ).rejects.toThrow(/redis\.enabled is false: set redis\.url/);
  });

  it('uninstalls', async () => {
    await helmCommand(helm, ['uninstall', release, '--namespace', namespace], kubeconfig);
    installed = false;
    await expect(
      client.get(`/apis/apps/v1/namespaces/${namespace}/statefulsets/${fullname}-redis`),
    ).rejects.toThrow(/404/);
    await expect(client.get(`/apis/rbac.authorization.k8s.io/v1/clusterroles/${fullname}`)).rejects.toThrow(
      /404/,
    );
  });
});

describe('deploy/install.yaml', () => {
  let manifests: Any[];
  const applied: Any[] = [];

  beforeAll(async () => {
    manifests = parseManifests(readFileSync(installYamlPath, 'utf8'));
  });

  afterAll(async () => {
    // Everything it made, newest first; the Trigger CRD stays (other tests share the same one).
    for (const manifest of applied.reverse())
      if (manifest.kind !== 'CustomResourceDefinition' && manifest.kind !== 'Namespace')
        await objects.delete(manifest).catch(() => {});
    if (applied.some((manifest) => manifest.kind === 'Namespace')) await removeNamespace(installNamespace);
  });

  it('is the chart rendered with its defaults (run `npm run install-yaml` when this fails)', async () => {
    const expected = await renderInstallYaml(helm);
    expect(
      readFileSync(installYamlPath, 'utf8') === expected,
      'deploy/install.yaml is out of date: run `npm run install-yaml`',
    ).toBe(true);
    expect(manifests[0]).toEqual({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: installNamespace },
    });
    expect(manifests[1].kind).toBe('CustomResourceDefinition');
    expect(manifests[1]).toEqual(
      parse(readFileSync(resolve(root, 'deploy/crds/triggers.triggerhub.io.yaml'), 'utf8')),
    );
    for (const manifest of manifests.slice(1))
      if (manifest.kind !== 'CustomResourceDefinition' && !manifest.kind.startsWith('Cluster'))
        expect(manifest.metadata.namespace, `${manifest.kind} ${manifest.metadata.name}`).toBe(
          installNamespace,
        );
    const deployment = manifests.find((manifest) => manifest.kind === 'Deployment');
    const env = envOf(deployment.spec.template.spec.containers[0]);
    expect(deployment.spec.template.spec.containers[0].image).toBe(
      `ghcr.io/trigger-hub/trigger-hub:${appVersion}`,
    );
    expect(env.REDIS_URL).toBe(`redis://${installRelease}-redis:6379`);
    expect(env.TH_API_TOKEN_SECRET).toBe(`${installRelease}-api-token`);
    // No secret value in the file.
    expect(manifests.map((manifest) => manifest.kind)).not.toContain('Secret');
  });

  it('applies for real (server-side apply, in file order) to an API server without Trigger Hub, and removes cleanly', async () => {
    // A leftover of an earlier, interrupted run would make this a no-op apply; start from nothing.
    const existing = await client.get(`/api/v1/namespaces/${installNamespace}`).catch(() => undefined);
    if (existing) {
      for (const manifest of [...manifests].reverse())
        if (manifest.kind !== 'CustomResourceDefinition' && manifest.kind !== 'Namespace')
          await objects.delete(manifest).catch(() => {});
      await removeNamespace(installNamespace);
    }
    for (const manifest of manifests) {
      const result = await objects.patch(
        manifest as KubernetesObject,
        undefined,
        undefined,
        'trigger-hub-test',
        true,
        PatchStrategy.ServerSideApply,
      );
      applied.push(manifest);
      expect(result.metadata?.name, `${manifest.kind} ${manifest.metadata.name}`).toBe(
        manifest.metadata.name,
      );
    }
    const apps = `/apis/apps/v1/namespaces/${installNamespace}`;
    const statefulSet = await client.get<Any>(`${apps}/statefulsets/${installRelease}-redis`);
    expect(redisArgs(statefulSet)).toMatchObject({ appendonly: 'yes', 'maxmemory-policy': 'noeviction' });
    const deployment = await client.get<Any>(`${apps}/deployments/${installRelease}`);
    expect(envOf(deployment.spec.template.spec.containers[0]).TH_API_TOKEN_SECRET).toBe(
      `${installRelease}-api-token`,
    );
    // The token Role is there for the hub to make its Secret.
    const authorization = kc.makeApiClient(AuthorizationV1Api);
    const review = await authorization.createSubjectAccessReview({
      body: {
        spec: {
          user: `system:serviceaccount:${installNamespace}:${installRelease}`,
          groups: ['system:serviceaccounts'],
          resourceAttributes: { resource: 'secrets', verb: 'create', namespace: installNamespace },
        },
      },
    });
    expect(review.status?.allowed).toBe(true);

    // Removed again: cluster-scoped objects too (the shared Trigger CRD stays), and the namespace.
    for (const manifest of [...applied].reverse())
      if (manifest.kind !== 'CustomResourceDefinition' && manifest.kind !== 'Namespace')
        await objects.delete(manifest);
    await removeNamespace(installNamespace);
    applied.length = 0;
    for (const manifest of manifests.filter((item) => item.kind.startsWith('Cluster')))
      await expect(
        client.get(
          `/apis/rbac.authorization.k8s.io/v1/${manifest.kind.toLowerCase()}s/${manifest.metadata.name}`,
        ),
      ).rejects.toThrow(/404/);
  });
});
