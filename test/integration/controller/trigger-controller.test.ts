// Controller mode against the real kube-apiserver: the Trigger CRD from deploy/ applies; Trigger resources
// start, reconfigure and stop their sensors, and their status (conditions, observedGeneration, counters) says
// so; the API server rejects what the CRD schema can reject, the hub marks the rest not Ready with the reason;
// Slack webhook URLs come from Secrets; one replica at a time writes status (a Lease).

import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNamespace, deleteNamespace, kubeClient } from '../../../sensors/kubernetes/test-support.ts';
import { type TriggerController, triggersPath } from '../../../src/controller/controller.ts';
import type { KubeApiError, KubeClient, KubeObject } from '../../../src/controller/kube-client.ts';
import type { Hub } from '../../../src/hub.ts';
import type { TriggerStatus } from '../../../src/trigger/schema.ts';
import { installTriggerCrd, startTestController } from '../../support/controller.ts';
import { redisUrl } from '../../support/hub.ts';
import { type Sink, startSink } from '../../support/sink.ts';
import { waitFor } from '../../support/wait.ts';

let client: KubeClient;
let redis: Redis;
const namespaces: string[] = [];

beforeAll(async () => {
  client = kubeClient();
  redis = new Redis(redisUrl());
  await installTriggerCrd(client);
});

afterAll(async () => {
  redis.disconnect();
  for (const namespace of namespaces) await deleteNamespace(client, namespace);
});

interface Setup {
  ns: string;
  hub: Hub;
  controller: TriggerController;
  close(): Promise<void>;
}

async function setup(): Promise<Setup> {
  const ns = await createNamespace(client, 'ctl');
  namespaces.push(ns);
  const started = await startTestController(client, redis, [ns], {
    countersIntervalMs: 500,
    retryPeriodMs: 300,
    resyncIntervalMs: 500,
  });
  await waitFor(() => started.controller.isLeader(), 30_000, 'leadership');
  return { ns, ...started };
}

function trigger(ns: string, name: string, spec: Record<string, unknown>): KubeObject {
  return { apiVersion: 'triggerhub.io/v1alpha1', kind: 'Trigger', metadata: { name, namespace: ns }, spec };
}

function cronTo(sink: Sink, extra: Record<string, unknown> = {}) {
  return {
    source: { cron: { every: 1000 } },
    target: { http: { url: sink.url } },
    ...extra,
  };
}

async function readTrigger(ns: string, name: string): Promise<KubeObject & { status?: TriggerStatus }> {
  return client.get(`${triggersPath(ns)}/${name}`);
}

function conditionOf(object: { status?: TriggerStatus }, type: string) {
  return object.status?.conditions?.find((c) => c.type === type);
}

async function waitForStatus(
  ns: string,
  name: string,
  predicate: (object: KubeObject & { status?: TriggerStatus }) => boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<KubeObject & { status?: TriggerStatus }> {
  let last: (KubeObject & { status?: TriggerStatus }) | undefined;
  await waitFor(
    async () => {
      last = await readTrigger(ns, name);
      return predicate(last);
    },
    timeoutMs,
    `${what} (last status: ${JSON.stringify(last?.status)})`,
  ).catch((error: Error) => {
    throw new Error(`${error.message}; last status: ${JSON.stringify(last?.status)}`);
  });
  return last!;
}

describe('Trigger CRD', () => {
  it('the API server rejects a Trigger with two source kinds', async () => {
    const ns = await createNamespace(client, 'ctl');
    namespaces.push(ns);
    const rejected = await client
      .request('POST', triggersPath(ns), {
        body: trigger(ns, 'two-sources', {
          source: { cron: { every: 1000 }, webhook: {} },
          target: { http: { url: 'http://127.0.0.1:1/fn' } },
        }),
      })
      .then(
        () => undefined,
        (error: KubeApiError) => error,
      );
    expect(rejected?.status).toBe(422);
    expect(rejected?.message).toContain('set exactly one of');
  });
});

describe('controller mode', () => {
  it('starts a created Trigger (Ready, events delivered), reconfigures a changed one and stops a deleted one', async () => {
    const { ns, hub, close } = await setup();
    const first = await startSink();
    const second = await startSink();
    try {
      await client.request('POST', triggersPath(ns), { body: trigger(ns, 'ticks', cronTo(first)) });
      await first.waitFor(() => first.delivered.size >= 2, 30_000, 'cron events');
      const ready = await waitForStatus(
        ns,
        'ticks',
        (o) => conditionOf(o, 'Ready')?.status === 'True' && o.status?.observedGeneration === 1,
        'Ready=True',
      );
      expect(ready.status?.sourceKind).toBe('cron');
      expect(conditionOf(ready, 'SourceConnected')?.status).toBe('True');
      expect(conditionOf(ready, 'Degraded')?.status).toBe('False');
      await waitForStatus(ns, 'ticks', (o) => (o.status?.counters?.delivered ?? 0) >= 1, 'delivered counter');

      // Change: the target moves to the second sink.
      await client.request('PATCH', `${triggersPath(ns)}/ticks`, {
        body: { spec: { target: { http: { url: second.url } } } },
        contentType: 'application/merge-patch+json',
      });
      await second.waitFor(() => second.delivered.size >= 1, 20_000, 'events at the new target');
      await waitForStatus(
        ns,
        'ticks',
        (o) => o.status?.observedGeneration === 2 && conditionOf(o, 'Ready')?.status === 'True',
        'generation 2 observed',
      );

      // Delete: the sensor stops (typically well within 2 s; not timed here: the test box may be loaded).
      await client.request('DELETE', `${triggersPath(ns)}/ticks`);
      await waitFor(() => hub.engine.get(`${ns}/ticks`) === undefined, 20_000, 'the trigger to stop');
      const count = second.received.length;
      await new Promise((r) => setTimeout(r, 2_500));
      expect(second.received.length).toBe(count);
    } finally {
      await close();
      await first.close();
      await second.close();
    }
  });

  it('marks a Trigger the schema accepts but the hub cannot run as not Ready, with the validation message', async () => {
    const { ns, hub, close } = await setup();
    try {
      await client.request('POST', triggersPath(ns), {
        body: trigger(ns, 'bad-cron', {
          source: { cron: { schedule: 'every now and then' } },
          target: { http: { url: 'http://127.0.0.1:1/fn' } },
        }),
      });
      const marked = await waitForStatus(
        ns,
        'bad-cron',
        (o) => conditionOf(o, 'Ready')?.reason === 'InvalidSpec',
        'InvalidSpec',
      );
      expect(conditionOf(marked, 'Ready')?.status).toBe('False');
      expect(conditionOf(marked, 'Ready')?.message).toContain('spec.source.cron.schedule');
      expect(marked.status?.observedGeneration).toBe(1);
      expect(hub.engine.get(`${ns}/bad-cron`)?.state).toBe('invalid');
    } finally {
      await close();
    }
  });

  it('reports a kubernetes source that cannot watch (an unknown kind) as not connected, with the reason', async () => {
    const { ns, close } = await setup();
    try {
      await client.request('POST', triggersPath(ns), {
        body: trigger(ns, 'no-such-kind', {
          source: { kubernetes: { apiVersion: 'v1', kind: 'NoSuchKind', namespace: ns } },
          target: { http: { url: 'http://127.0.0.1:1/fn' } },
        }),
      });
      const marked = await waitForStatus(
        ns,
        'no-such-kind',
        (o) =>
          conditionOf(o, 'SourceConnected')?.status === 'False' &&
          (conditionOf(o, 'SourceConnected')?.message ?? '').includes('NoSuchKind'),
        'SourceConnected=False with the reason',
      );
      expect(conditionOf(marked, 'Ready')).toMatchObject({ status: 'False', reason: 'SourceNotConnected' });
      expect(conditionOf(marked, 'SourceConnected')?.message).toContain('NoSuchKind');
      expect(conditionOf(marked, 'Degraded')?.status).toBe('True');
    } finally {
      await close();
    }
  });

  it('reads a Slack webhook URL from a Secret of the Trigger namespace, says so when it is missing, follows its rotation', async () => {
    const { ns, close } = await setup();
    const slack = await startSink();
    const rotated = await startSink();
    try {
      await client.request('POST', triggersPath(ns), {
        body: trigger(ns, 'to-slack', {
          source: { cron: { every: 1000, data: { reason: 'CrashLoopBackOff' } } },
          target: {
            slack: {
              webhookUrl: { secretKeyRef: { name: 'slack', key: 'url' } },
              text: 'reason: {{data.reason}}',
            },
          },
        }),
      });
      await waitForStatus(
        ns,
        'to-slack',
        (o) => conditionOf(o, 'Ready')?.reason === 'SecretNotFound',
        'SecretNotFound',
      );
      await client.request('POST', `/api/v1/namespaces/${ns}/secrets`, {
        body: { metadata: { name: 'slack' }, stringData: { url: slack.url } },
      });
      // A Secret change is picked up with the next change of the Trigger.
      await client.request('PATCH', `${triggersPath(ns)}/to-slack`, {
        body: { metadata: { annotations: { touched: 'yes' } }, spec: { delivery: { retries: 3 } } },
        contentType: 'application/merge-patch+json',
      });
      // Slack messages carry no event id: count requests.
      await slack.waitFor(() => slack.received.length >= 1, 30_000, 'a Slack message');
      expect(JSON.parse(slack.received[0]!.body.toString())).toEqual({ text: 'reason: CrashLoopBackOff' });
      await waitForStatus(ns, 'to-slack', (o) => conditionOf(o, 'Ready')?.status === 'True', 'Ready');
      // Rotating the Secret restarts the trigger with the new value (found by the periodic resync).
      await client.request('PATCH', `/api/v1/namespaces/${ns}/secrets/slack`, {
        body: { stringData: { url: rotated.url } },
        contentType: 'application/merge-patch+json',
      });
      await rotated.waitFor(() => rotated.received.length >= 1, 30_000, 'a message at the rotated URL');
    } finally {
      await close();
      await slack.close();
      await rotated.close();
    }
  });

  it('lets one replica at a time write status, and another take over when it stops', async () => {
    const a = await setup();
    const started = await startTestController(client, redis, [a.ns], {
      retryPeriodMs: 300,
      leaseDurationMs: 3_000,
      start: false,
    });
    const b = started.controller;
    try {
      await b.start();
      await new Promise((r) => setTimeout(r, 1_000));
      expect([a.controller.isLeader(), b.isLeader()]).toEqual([true, false]);
      await a.close();
      await waitFor(() => b.isLeader(), 30_000, 'the second replica to lead');
    } finally {
      await started.close();
    }
  });
});
