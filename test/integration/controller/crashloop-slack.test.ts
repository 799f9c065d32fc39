// The example triggers/examples/pod-crashloop-slack.yaml end to end, in controller mode against the real
// kube-apiserver: a Pod's status moves to CrashLoopBackOff → one Slack message (to a local server standing in
// for Slack's webhook endpoint, its URL read from a Secret) naming the pod, namespace, container and reason.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  applyCrd,
  createNamespace,
  deleteNamespace,
  kubeClient,
} from '../../../sensors/kubernetes/test-support.ts';
import { triggersPath } from '../../../src/controller/controller.ts';
import type { KubeClient, KubeObject } from '../../../src/controller/kube-client.ts';
import { startTestController } from '../../support/controller.ts';
import { redisUrl } from '../../support/hub.ts';
import { startSink } from '../../support/sink.ts';
import { waitFor } from '../../support/wait.ts';

const root = resolve(import.meta.dirname, '../../..');
let client: KubeClient;
let redis: Redis;
const namespaces: string[] = [];

beforeAll(async () => {
  client = kubeClient();
  redis = new Redis(redisUrl());
  await applyCrd(
    client,
    parse(readFileSync(`${root}/deploy/crds/triggers.triggerhub.io.yaml`, 'utf8')) as KubeObject,
  );
});

afterAll(async () => {
  redis.disconnect();
  for (const namespace of namespaces) await deleteNamespace(client, namespace);
});

describe('pod crash-loop → Slack example', () => {
  it('sends one Slack message naming the pod, namespace, container and reason', async () => {
    const ops = await createNamespace(client, 'ops');
    const apps = await createNamespace(client, 'apps');
    namespaces.push(ops, apps);
    const slack = await startSink();
    const { hub, controller, close } = await startTestController(client, redis, [ops], { start: false });
    try {
      await controller.start();
      await client.request('POST', `/api/v1/namespaces/${ops}/secrets`, {
        body: { metadata: { name: 'slack-webhook' }, stringData: { url: slack.url } },
      });
      const example = parse(readFileSync(`${root}/triggers/examples/pod-crashloop-slack.yaml`, 'utf8')) as {
        metadata: { namespace: string };
        spec: { source: { kubernetes: Record<string, unknown> } };
      };
      example.metadata.namespace = ops;
      // Only this test's pods (the stack's API server is shared).
      example.spec.source.kubernetes.namespace = apps;
      await client.request('POST', triggersPath(ops), { body: example });
      await waitFor(
        () => hub.engine.get(`${ops}/pod-crashloop-slack`)?.running?.health().connected ?? false,
        30_000,
        'the pod watch',
      );

      const pods = `/api/v1/namespaces/${apps}/pods`;
      await client.request('POST', pods, {
        body: {
          metadata: { name: 'web-7d9f' },
          spec: { containers: [{ name: 'server', image: 'example/web:1' }] },
        },
      });
      const setStatus = (state: Record<string, unknown>, restartCount: number) =>
        client.request('PATCH', `${pods}/web-7d9f/status`, {
          body: {
            status: {
              phase: 'Running',
              containerStatuses: [
                { name: 'server', image: 'example/web:1', imageID: '', ready: false, restartCount, state },
              ],
            },
          },
          contentType: 'application/merge-patch+json',
        });
      // A container that runs is not reported; one waiting in CrashLoopBackOff is.
      await setStatus({ running: { startedAt: '2026-11-23T10:00:00Z' } }, 0);
      await setStatus(
        {
          waiting: {
            reason: 'CrashLoopBackOff',
            message: 'back-off 40s restarting failed container=server pod=web-7d9f',
          },
        },
        3,
      );
      await slack.waitFor(() => slack.received.length >= 1, 30_000, 'a Slack message');
      await new Promise((r) => setTimeout(r, 1_000));
      expect(slack.received).toHaveLength(1);
      const { text } = JSON.parse(slack.received[0]!.body.toString()) as { text: string };
      expect(text).toContain(`Pod ${apps}/web-7d9f`);
      expect(text).toContain('container server');
      expect(text).toContain('CrashLoopBackOff');
      expect(text).toContain('restarts: 3');
    } finally {
      await close();
      await slack.close();
    }
  });
});
