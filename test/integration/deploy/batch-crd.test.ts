// The CRD's delivery.batch rules, checked by the real kube-apiserver. The CRD is installed under a private
// API group of its own: the shared Trigger CRD other test runs use is left alone.

import { randomBytes } from 'node:crypto';
import {
  ApiException,
  ApiextensionsV1Api,
  CustomObjectsApi,
  KubeConfig,
  loadYaml,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { triggerCrdYaml } from '../../../src/trigger/crd.ts';
import { serviceEnv } from '../../setup/env.ts';

const group = `batch-${randomBytes(4).toString('hex')}.triggerhub.io`;
const version = 'v1alpha1';
const plural = 'triggers';
const namespace = 'default';
const crdName = `${plural}.${group}`;

const statusOf = (err: unknown) => (err instanceof ApiException ? err.code : undefined);

describe('the Trigger CRD on a real API server: delivery.batch', () => {
  const kc = new KubeConfig();
  let ext: ApiextensionsV1Api;
  let custom: CustomObjectsApi;

  beforeAll(async () => {
    kc.loadFromFile(serviceEnv('TH_KUBECONFIG').TH_KUBECONFIG);
    ext = kc.makeApiClient(ApiextensionsV1Api);
    custom = kc.makeApiClient(CustomObjectsApi);
    // Through loadYaml: the client's model has its own names for `default` and `x-kubernetes-*` fields.
    const crd = loadYaml<V1CustomResourceDefinition>(triggerCrdYaml());
    await ext.createCustomResourceDefinition({
      body: { ...crd, metadata: { name: crdName }, spec: { ...crd.spec, group } },
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      const current = await ext.readCustomResourceDefinition({ name: crdName });
      if (current.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (Date.now() > deadline) throw new Error(`${crdName} was not established within 30 s`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  });

  afterAll(async () => {
    await ext?.deleteCustomResourceDefinition({ name: crdName }).catch(() => undefined);
  });

  /** Creates a Trigger; undefined when accepted, else the status code and the API server's message. */
  async function create(spec: Record<string, unknown>) {
    const name = `b-${randomBytes(4).toString('hex')}`;
    const body = { apiVersion: `${group}/${version}`, kind: 'Trigger', metadata: { name, namespace }, spec };
    // A just-established CRD's endpoint may answer 404 for a moment.
    for (let attempt = 0; ; attempt++) {
      try {
        return {
          created: (await custom.createNamespacedCustomObject({
            group,
            version,
            namespace,
            plural,
            body,
          })) as {
            spec: { delivery: { batch: Record<string, unknown>; concurrency: number } };
          },
        };
      } catch (err) {
        if (statusOf(err) === 404 && attempt < 50) {
          await new Promise((resolve) => setTimeout(resolve, 200));
          continue;
        }
        return { status: statusOf(err), message: String((err as ApiException<string>).body ?? err) };
      }
    }
  }

  const source = { webhook: {} };
  const http = { http: { url: 'http://transform.etl.svc/fn' } };

  it('accepts a batch on an http target and fills in its defaults', async () => {
    const { created, message } = await create({ source, target: http, delivery: { batch: {} } });
    expect(message).toBeUndefined();
    expect(created!.spec.delivery.batch).toEqual({
      maxEvents: 100,
      maxWaitMs: 1000,
      maxBytes: 1_048_576,
      onFailure: 'retry',
    });
  });

  it('rejects a batch on a Slack target', async () => {
    const { status, message } = await create({
      source,
      target: { slack: { webhookUrl: { env: 'SLACK_URL' } } },
      delivery: { batch: {} },
    });
    expect(status).toBe(422);
    expect(message).toMatch(/delivery\.batch works with http targets only/);
  });

  it('rejects compatibility headers and too many events in flight', async () => {
    const kubeless = await create({
      source,
      target: { http: { ...http.http, compatibility: 'kubeless' } },
      delivery: { batch: {} },
    });
    expect(kubeless.status).toBe(422);
    expect(kubeless.message).toMatch(/compatibility/);
    const tooMany = await create({ source, target: http, delivery: { batch: { maxEvents: 1000 } } });
    expect(tooMany.status).toBe(422);
    expect(tooMany.message).toMatch(/at most 10000/);
    const bounded = await create({
      source,
      target: http,
      delivery: { concurrency: 10, batch: { maxEvents: 1000 } },
    });
    expect(bounded.message).toBeUndefined();
  });
});
