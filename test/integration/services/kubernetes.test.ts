import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ApiException,
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  loadYaml,
  type V1ConfigMap,
  type V1CustomResourceDefinition,
  Watch,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../../scripts/services/lib/paths.ts';
import { serviceEnv } from '../../setup/env.ts';

const crdFile = join(repoRoot, 'deploy', 'crds', 'triggers.triggerhub.io.yaml');
const group = 'triggerhub.io';
const version = 'v1alpha1';
const plural = 'triggers';
const namespace = 'default';

const statusOf = (err: unknown) => (err instanceof ApiException ? err.code : undefined);

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('kubernetes (kube-apiserver + etcd, no nodes)', () => {
  const kc = new KubeConfig();
  let ext: ApiextensionsV1Api;
  let custom: CustomObjectsApi;
  let core: CoreV1Api;
  const id = randomUUID().slice(0, 8);
  const triggerName = `smoke-${id}`;
  const configMapName = `smoke-${id}`;

  beforeAll(() => {
    kc.loadFromFile(serviceEnv('TH_KUBECONFIG').TH_KUBECONFIG);
    ext = kc.makeApiClient(ApiextensionsV1Api);
    custom = kc.makeApiClient(CustomObjectsApi);
    core = kc.makeApiClient(CoreV1Api);
  });
  afterAll(async () => {
    await custom
      .deleteNamespacedCustomObject({ group, version, namespace, plural, name: triggerName })
      .catch(() => undefined);
    await core.deleteNamespacedConfigMap({ name: configMapName, namespace }).catch(() => undefined);
  });

  async function applyCrd(crd: V1CustomResourceDefinition): Promise<void> {
    const name = crd.metadata!.name!;
    try {
      await ext.createCustomResourceDefinition({ body: crd });
    } catch (err) {
      if (statusOf(err) !== 409) throw err;
      const current = await ext.readCustomResourceDefinition({ name });
      await ext.replaceCustomResourceDefinition({
        name,
        body: { ...crd, metadata: { ...crd.metadata, resourceVersion: current.metadata!.resourceVersion } },
      });
    }
    await until(`${name} to be established`, async () => {
      const c = await ext.readCustomResourceDefinition({ name });
      return c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True') || undefined;
    });
  }

  /** Creates a custom object, retrying while a just-established CRD's endpoint does not serve yet. */
  function createObject(g: string, v: string, p: string, body: object) {
    return until(`a ${p} object to be created`, async () => {
      try {
        return (await custom.createNamespacedCustomObject({
          group: g,
          version: v,
          namespace,
          plural: p,
          body,
        })) as {
          metadata: { uid: string; generation: number };
        };
      } catch (err) {
        if (statusOf(err) === 404) return undefined;
        throw err;
      }
    });
  }

  const rejection = (g: string, v: string, p: string, body: object) =>
    custom.createNamespacedCustomObject({ group: g, version: v, namespace, plural: p, body }).then(
      () => undefined,
      (err: unknown) => statusOf(err),
    );

  it('serves a CRD of our own: schema and CEL validation, objects created', async () => {
    const g = 'smoke.triggerhub.io';
    await applyCrd({
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: `widgets.${g}` },
      spec: {
        group: g,
        scope: 'Namespaced',
        names: { kind: 'Widget', plural: 'widgets', singular: 'widget', listKind: 'WidgetList' },
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            schema: {
              openAPIV3Schema: {
                type: 'object',
                required: ['spec'],
                properties: {
                  spec: {
                    type: 'object',
                    required: ['size'],
                    properties: {
                      size: { type: 'integer', minimum: 1 },
                      color: { type: 'string', maxLength: 20 },
                    },
                    x_kubernetes_validations: [{ rule: 'self.size <= 10', message: 'size is at most 10' }],
                  },
                },
              },
            },
          },
        ],
      },
    });
    const widget = (name: string, spec: object) => ({
      apiVersion: `${g}/v1`,
      kind: 'Widget',
      metadata: { name, namespace },
      spec,
    });
    const created = await createObject(g, 'v1', 'widgets', widget(`w-${id}`, { size: 3, color: 'red' }));
    expect(created.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(await rejection(g, 'v1', 'widgets', widget(`w-${id}-a`, { size: 0 }))).toBe(422);
    expect(await rejection(g, 'v1', 'widgets', widget(`w-${id}-b`, { size: 11 }))).toBe(422);
    await custom.deleteNamespacedCustomObject({
      group: g,
      version: 'v1',
      namespace,
      plural: 'widgets',
      name: `w-${id}`,
    });
  });

  it("accepts the project's Trigger CRD, creates a Trigger and rejects an invalid one", async () => {
    await applyCrd(loadYaml<V1CustomResourceDefinition>(readFileSync(crdFile, 'utf8')));
    const trigger = {
      apiVersion: `${group}/${version}`,
      kind: 'Trigger',
      metadata: { name: triggerName, namespace },
      spec: {
        source: { cron: { schedule: '*/5 * * * * *' } },
        target: { http: { url: 'http://127.0.0.1:7481/echo' } },
      },
    };
    const created = await createObject(group, version, plural, trigger);
    expect(created.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    const invalid = {
      ...trigger,
      metadata: { name: `${triggerName}-invalid`, namespace },
      spec: {
        ...trigger.spec,
        target: { http: { url: 'http://127.0.0.1:7481/echo' }, slack: { webhookUrl: 'x' } },
      },
    };
    expect(await rejection(group, version, plural, invalid)).toBe(422);
  });

  it('watches a ConfigMap being created and changed', async () => {
    const events: { type: string; data?: Record<string, string> }[] = [];
    const watch = new Watch(kc);
    const controller = await watch.watch(
      `/api/v1/namespaces/${namespace}/configmaps`,
      { fieldSelector: `metadata.name=${configMapName}` },
      (type, obj: V1ConfigMap) => events.push({ type, data: obj.data }),
      () => undefined,
    );
    try {
      const cm = await core.createNamespacedConfigMap({
        namespace,
        body: { metadata: { name: configMapName }, data: { step: 'created' } },
      });
      await core.replaceNamespacedConfigMap({
        name: configMapName,
        namespace,
        body: { ...cm, data: { step: 'changed' } },
      });
      await until('ADDED and MODIFIED events', async () => (events.length >= 2 ? true : undefined));
      expect(events.slice(0, 2)).toEqual([
        { type: 'ADDED', data: { step: 'created' } },
        { type: 'MODIFIED', data: { step: 'changed' } },
      ]);
    } finally {
      controller.abort();
    }
  });
});
