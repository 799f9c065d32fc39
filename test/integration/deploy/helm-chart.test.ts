// The Helm chart in deploy/helm/trigger-hub, rendered by a real `helm template` and applied to the test
// stack's real kube-apiserver: every object passes the API server's validation (server-side apply, dry
// run), and the RBAC it grants lets the controller do its job (SubjectAccessReview of the ServiceAccount).

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  AuthorizationV1Api,
  CoreV1Api,
  type KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  PatchStrategy,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ensureHelm, helmTemplate } from '../../../scripts/helm.ts';
import { loadKubeConfig } from '../../../src/controller/kube-client.ts';
import { serviceEnv } from '../../setup/env.ts';
import { uniqueNamespace } from '../../support/hub.ts';

const chart = resolve(import.meta.dirname, '../../../deploy/helm/trigger-hub');

type Manifest = KubernetesObject & { spec?: Record<string, unknown> } & Record<string, unknown>;

function parseManifests(yaml: string): Manifest[] {
  return parseAllDocuments(yaml)
    .map((document) => document.toJS() as Manifest | null)
    .filter((manifest): manifest is Manifest => Boolean(manifest?.kind));
}

function find(manifests: Manifest[], kind: string): Manifest {
  const found = manifests.find((manifest) => manifest.kind === kind);
  if (!found) throw new Error(`no ${kind} rendered`);
  return found;
}

// biome-ignore lint/suspicious/noExplicitAny: walking into rendered YAML
type Any = any;

describe('the Helm chart against the real kube-apiserver', () => {
  let helm: string;
  let kc: KubeConfig;
  let objects: KubernetesObjectApi;
  const namespace = uniqueNamespace('deploy');
  const release = namespace; // cluster-scoped RBAC objects are named after the release: unique per run
  const created: Manifest[] = [];
  let rendered: Manifest[];

  beforeAll(async () => {
    helm = await ensureHelm();
    kc = loadKubeConfig(serviceEnv('TH_KUBECONFIG').TH_KUBECONFIG);
    objects = KubernetesObjectApi.makeApiClient(kc);
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
    const values = join(mkdtempSync(join(tmpdir(), 'th-helm-')), 'values.yaml');
    writeFileSync(
      values,
      [
        'redis: { existingSecret: hub-redis }',
        'auth: { apiToken: not-a-real-token }',
        'controller: { namespaces: [shop, payments] }',
        'serviceMonitor: { enabled: true }',
        'autoscaling: { enabled: true, maxReplicas: 6 }',
      ].join('\n'),
    );
    rendered = parseManifests(await helmTemplate(helm, chart, { release, namespace, values: [values] }));
  }, 1_800_000);

  afterAll(async () => {
    for (const manifest of created.reverse()) await objects?.delete(manifest).catch(() => {});
  });

  it('renders a hardened Deployment: non-root, read-only root filesystem, probes, 0.0.0.0, Redis and token from Secrets', () => {
    const deployment = find(rendered, 'Deployment') as Any;
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 1000,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    expect(container.args).toEqual(['run', '--kubernetes=shop,payments']);
    const env = Object.fromEntries(
      (container.env as Array<{ name: string; value?: string; valueFrom?: unknown }>).map((item) => [
        item.name,
        item.value ?? item.valueFrom,
      ]),
    );
    expect(env.TH_HOST).toBe('0.0.0.0');
    expect(env.REDIS_URL).toEqual({ secretKeyRef: { name: 'hub-redis', key: 'redis-url' } });
    expect(env.TH_API_TOKEN).toEqual({ secretKeyRef: { name: `${release}-trigger-hub`, key: 'api-token' } });
    expect(env.POD_NAMESPACE).toEqual({ fieldRef: { fieldPath: 'metadata.namespace' } });
    // The one writable path is an emptyDir.
    expect(container.volumeMounts).toEqual([{ name: 'tmp', mountPath: '/tmp' }]);
    expect(pod.volumes).toEqual([{ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }]);
    // With the HPA on, the Deployment leaves replicas to it.
    expect(deployment.spec.replicas).toBeUndefined();
    expect(find(rendered, 'HorizontalPodAutoscaler').spec).toMatchObject({ maxReplicas: 6 });
    expect(find(rendered, 'ServiceMonitor').spec).toMatchObject({
      endpoints: [{ port: 'http', path: '/metrics' }],
    });
  });

  it('serves HTTPS (and mTLS for the API) from a TLS Secret when asked, with HTTPS probes', async () => {
    const manifests = parseManifests(
      await helmTemplate(helm, chart, {
        release,
        namespace,
        set: { 'redis.url': 'redis://redis:6379', 'tls.existingSecret': 'hub-tls', 'tls.clientAuth': 'true' },
      }),
    );
    const pod = (find(manifests, 'Deployment') as Any).spec.template.spec;
    const container = pod.containers[0];
    const env = Object.fromEntries(
      (container.env as Array<{ name: string; value?: string }>).map((item) => [item.name, item.value]),
    );
    expect(env).toMatchObject({
      TH_TLS_CERT_FILE: '/etc/trigger-hub/tls/tls.crt',
      TH_TLS_KEY_FILE: '/etc/trigger-hub/tls/tls.key',
      TH_TLS_CLIENT_CA_FILE: '/etc/trigger-hub/tls/ca.crt',
    });
    expect(container.volumeMounts).toContainEqual({
      name: 'tls',
      mountPath: '/etc/trigger-hub/tls',
      readOnly: true,
    });
    expect(pod.volumes).toContainEqual({
      name: 'tls',
      secret: { secretName: 'hub-tls', defaultMode: 0o440 },
    });
    for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe'])
      expect(container[probe].httpGet.scheme).toBe('HTTPS');
    // Still a valid Deployment for the real API server.
    const deployment = find(manifests, 'Deployment');
    const applied = await objects.patch(
      deployment,
      undefined,
      'All',
      'trigger-hub-test',
      true,
      PatchStrategy.ServerSideApply,
    );
    expect(applied.metadata?.name).toBe(deployment.metadata?.name);
  });

  it('refuses to render without a Redis (its own turned off, no other given)', async () => {
    await expect(
      helmTemplate(helm, chart, { release, namespace, set: { 'redis.enabled': 'false' } }),
    ).rejects.toThrow(/set redis\.url/);
  });

  it('renders a KEDA ScaledObject on the queue depth instead of the HPA when asked', async () => {
    const manifests = parseManifests(
      await helmTemplate(helm, chart, {
        release,
        namespace,
        set: { 'redis.url': 'redis://redis:6379', 'keda.enabled': 'true', 'autoscaling.enabled': 'true' },
      }),
    );
    expect(manifests.map((manifest) => manifest.kind)).not.toContain('HorizontalPodAutoscaler');
    const scaled = find(manifests, 'ScaledObject') as Any;
    expect(scaled.spec.triggers[0].metadata.query).toContain('trigger_hub_queue_backlog');
  });

  it('applies (server-side dry run) every object the chart renders to the real API server', async () => {
    const withCrds = parseManifests(
      await helmTemplate(helm, chart, {
        release,
        namespace,
        includeCrds: true,
        set: { 'redis.url': 'redis://redis:6379', 'auth.apiToken': 'x', 'autoscaling.enabled': 'true' },
      }),
    );
    const crd = find(withCrds, 'CustomResourceDefinition');
    expect(crd).toEqual(
      parseManifests(readFileSync(resolve(chart, '../../crds/triggers.triggerhub.io.yaml'), 'utf8'))[0],
    );
    const kinds = withCrds.map((manifest) => manifest.kind).sort();
    expect(kinds).toEqual(
      [
        'ClusterRole',
        'ClusterRoleBinding',
        'CustomResourceDefinition',
        'Deployment',
        'HorizontalPodAutoscaler',
        'PodDisruptionBudget',
        'Role',
        'RoleBinding',
        'Secret',
        'Service',
        'ServiceAccount',
      ].sort(),
    );
    for (const manifest of withCrds) {
      const applied = await objects.patch(
        manifest,
        undefined,
        'All',
        'trigger-hub-test',
        true,
        PatchStrategy.ServerSideApply,
      );
      expect(applied.metadata?.name, `${manifest.kind} ${manifest.metadata?.name}`).toBe(
        manifest.metadata?.name,
      );
    }
    // A broken object is refused by the same path, so the loop above can fail.
    const broken = { ...find(withCrds, 'Deployment'), spec: { replicas: 'two' } } as Manifest;
    await expect(
      objects.patch(broken, undefined, 'All', 'trigger-hub-test', true, PatchStrategy.ServerSideApply),
    ).rejects.toThrow();
  });

  it("grants the controller's ServiceAccount exactly what it needs", async () => {
    // RBAC objects for real (dry-run objects grant nothing), then ask the authorizer about the ServiceAccount.
    const rbac = rendered.filter((manifest) =>
      ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'].includes(manifest.kind!),
    );
    for (const manifest of rbac) {
      await objects.patch(
        manifest,
        undefined,
        undefined,
        'trigger-hub-test',
        true,
        PatchStrategy.ServerSideApply,
      );
      created.push(manifest);
    }
    const authorization = kc.makeApiClient(AuthorizationV1Api);
    const user = `system:serviceaccount:${namespace}:${release}-trigger-hub`;
    const can = async (attributes: Record<string, string>) => {
      const review = await authorization.createSubjectAccessReview({
        body: { spec: { user, groups: ['system:serviceaccounts'], resourceAttributes: attributes } },
      });
      return review.status?.allowed === true;
    };
    expect(
      await can({ group: 'triggerhub.io', resource: 'triggers', verb: 'watch', namespace: 'shop' }),
    ).toBe(true);
    expect(
      await can({
        group: 'triggerhub.io',
        resource: 'triggers',
        subresource: 'status',
        verb: 'update',
        namespace: 'shop',
      }),
    ).toBe(true);
    expect(await can({ group: '', resource: 'secrets', verb: 'get', namespace: 'shop' })).toBe(true);
    expect(await can({ group: 'coordination.k8s.io', resource: 'leases', verb: 'update', namespace })).toBe(
      true,
    );
    expect(await can({ group: '', resource: 'pods', verb: 'watch', namespace: 'shop' })).toBe(true);
    expect(await can({ group: 'apps', resource: 'deployments', verb: 'list' })).toBe(true);
    // spec.scaling: the autoscalers of the Triggers' target workloads.
    for (const [group, resource] of [
      ['autoscaling', 'horizontalpodautoscalers'],
      ['keda.sh', 'scaledobjects'],
    ])
      for (const verb of ['list', 'create', 'patch', 'delete'])
        expect(
          await can({ group: group!, resource: resource!, verb, namespace: 'shop' }),
          `${verb} ${resource}`,
        ).toBe(true);
    // ... and nothing more: no listing Secrets, no writing Triggers or workloads, leases only at home.
    expect(await can({ group: '', resource: 'secrets', verb: 'list', namespace: 'shop' })).toBe(false);
    expect(
      await can({ group: 'triggerhub.io', resource: 'triggers', verb: 'update', namespace: 'shop' }),
    ).toBe(false);
    expect(await can({ group: 'apps', resource: 'deployments', verb: 'delete', namespace: 'shop' })).toBe(
      false,
    );
    expect(
      await can({ group: 'coordination.k8s.io', resource: 'leases', verb: 'update', namespace: 'shop' }),
    ).toBe(false);
  });
});
