// The autoscaling manifests against the real kube-apiserver and a running hub: the chart's hub HPA (CPU,
// backlog, qps) and hub ScaledObject apply (server-side dry run; the ScaledObject against KEDA's real CRD,
// fetched from the Go module proxy), the chart's prometheus-adapter ConfigMap holds deploy/'s rules, and every
// metric name the HPAs, ScaledObjects, adapter rules, PrometheusRules and documented alerts use is one a
// running hub's /metrics exports, with the labels the selectors match on.

import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { KubernetesObjectApi, PatchStrategy } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { ensureHelm, helmTemplate } from '../../../scripts/helm.ts';
import { kubeClient } from '../../../sensors/kubernetes/test-support.ts';
import { loadKubeConfig } from '../../../src/controller/kube-client.ts';
import { buildHpa, buildScaledObject } from '../../../src/controller/scaling.ts';
import type { Hub } from '../../../src/hub.ts';
import { parseTriggers } from '../../../src/trigger/load.ts';
import { serviceEnv } from '../../setup/env.ts';
import { installKedaCrd } from '../../support/controller.ts';
import { startTestHub, triggerDoc, uniqueNamespace } from '../../support/hub.ts';
import { postMany } from '../../support/post.ts';
import { type Sink, startSink } from '../../support/sink.ts';

const root = resolve(import.meta.dirname, '../../..');
const chart = resolve(root, 'deploy/helm/trigger-hub');

// biome-ignore lint/suspicious/noExplicitAny: walking into rendered YAML
type Any = any;

function manifests(yaml: string): Any[] {
  return parseAllDocuments(yaml)
    .map((document) => document.toJS())
    .filter((manifest) => manifest?.kind);
}

const adapterConfig = parse(readFileSync(resolve(root, 'deploy/prometheus-adapter/config.yaml'), 'utf8')) as {
  externalRules: Array<{ seriesQuery: string; metricsQuery: string; name: { matches: string; as: string } }>;
};

/** Metric names in a PromQL expression (or an adapter rule's query). */
function promqlNames(expression: string): string[] {
  return [...expression.matchAll(/\btrigger_hub_[a-z0-9_]+/g)].map((match) => match[0]);
}

/** Prometheus names a scrape exports: every `# TYPE` line, plus a histogram's _bucket, _sum and _count. */
function exportedNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const [, name, type] of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name!);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name! + suffix);
  }
  return names;
}

/** What a set of manifests refers to: External metric names (served by the adapter) and PromQL names. */
function namesUsedBy(objects: Any[]): { external: string[]; promql: string[] } {
  const external: string[] = [];
  const promql: string[] = [];
  for (const object of objects) {
    if (object.kind === 'HorizontalPodAutoscaler')
      for (const metric of object.spec.metrics ?? [])
        if (metric.type === 'External') external.push(metric.external.metric.name);
    if (object.kind === 'ScaledObject')
      for (const trigger of object.spec.triggers ?? [])
        if (trigger.type === 'prometheus') promql.push(...promqlNames(trigger.metadata.query));
    if (object.kind === 'PrometheusRule')
      for (const group of object.spec.groups ?? [])
        for (const rule of group.rules ?? []) promql.push(...promqlNames(String(rule.expr)));
  }
  return { external, promql };
}

describe('autoscaling manifests', () => {
  let helm: string;
  let objects: KubernetesObjectApi;
  const namespace = uniqueNamespace('scaling');
  let hub: Hub;
  let sink: Sink;
  let exposition: string;
  const ns = uniqueNamespace('metrics');

  beforeAll(async () => {
    helm = await ensureHelm();
    const client = kubeClient();
    await installKedaCrd(client);
    await client.request('POST', '/api/v1/namespaces', {
      body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } },
    });
    objects = KubernetesObjectApi.makeApiClient(loadKubeConfig(serviceEnv('TH_KUBECONFIG').TH_KUBECONFIG));

    // A hub that has delivered a few events, so every per-trigger series exists.
    sink = await startSink();
    hub = await startTestHub([
      triggerDoc(ns, 'fn', { source: { webhook: {} }, target: { http: { url: sink.url } } }),
    ]);
    await postMany(`${hub.url}/webhooks/${ns}/fn`, 5, {
      headersFor: (i) => ({ 'idempotency-key': `m-${i}` }),
    });
    await sink.waitFor(() => sink.delivered.size === 5, 30_000, 'five deliveries');
    exposition = await (await fetch(`${hub.url}/metrics`)).text();
  }, 1_800_000);

  afterAll(async () => {
    await hub?.close();
    await sink?.close();
    await kubeClient()
      .request('DELETE', `/api/v1/namespaces/${namespace}`)
      .catch(() => {});
  });

  const render = async (set: Record<string, string>) =>
    manifests(
      await helmTemplate(helm, chart, {
        release: 'hub',
        namespace,
        set: { 'redis.url': 'redis://redis:6379', ...set },
      }),
    );

  const dryRunApply = (manifest: Any) =>
    objects.patch(manifest, undefined, 'All', 'trigger-hub-test', true, PatchStrategy.ServerSideApply);

  it("the hub's HPA on CPU, backlog and received qps applies to the API server", async () => {
    const rendered = await render({
      'autoscaling.enabled': 'true',
      'autoscaling.backlogPerReplica': '500',
      'autoscaling.eventsPerSecondPerReplica': '300',
    });
    const hpa = rendered.find((manifest) => manifest.kind === 'HorizontalPodAutoscaler');
    expect(hpa.spec.metrics.map((metric: Any) => metric.type)).toEqual(['Resource', 'External', 'External']);
    expect(hpa.spec.metrics[1].external).toEqual({
      metric: { name: 'trigger_hub_all_triggers_backlog' },
      target: { type: 'AverageValue', averageValue: '500' },
    });
    const applied = (await dryRunApply(hpa)) as Any;
    expect(applied.spec.metrics).toHaveLength(3);
    await expect(
      render({
        'autoscaling.enabled': 'true',
        'autoscaling.targetCPUUtilizationPercentage': '0',
      }),
    ).rejects.toThrow(/needs at least one of/);
  });

  it("the hub's ScaledObject applies against KEDA's real CRD, and a broken one is refused by it", async () => {
    const rendered = await render({ 'keda.enabled': 'true', 'keda.eventsPerSecondPerReplica': '400' });
    expect(rendered.map((manifest) => manifest.kind)).not.toContain('HorizontalPodAutoscaler');
    const scaled = rendered.find((manifest) => manifest.kind === 'ScaledObject');
    expect(scaled.spec.triggers.map((trigger: Any) => trigger.metadata.query)).toEqual([
      `sum(max by (trigger) (trigger_hub_queue_backlog{namespace="${namespace}"}))`,
      `sum(rate(trigger_hub_events_received_total{namespace="${namespace}"}[2m]))`,
    ]);
    const applied = (await dryRunApply(scaled)) as Any;
    expect(applied.spec.triggers).toHaveLength(2);
    // KEDA's schema is what validates: a trigger without its type is refused.
    const broken = { ...scaled, spec: { ...scaled.spec, triggers: [{ metadata: {} }] } };
    await expect(dryRunApply(broken)).rejects.toThrow(/type/);
  });

  it("the chart's prometheus-adapter ConfigMap holds deploy/prometheus-adapter's rules and applies", async () => {
    const rendered = await render({ 'prometheusAdapter.rules.create': 'true' });
    const configMap = rendered.find((manifest) => manifest.kind === 'ConfigMap');
    expect(configMap.metadata.name).toBe('hub-trigger-hub-prometheus-adapter');
    expect(parse(configMap.data['config.yaml'])).toEqual(adapterConfig);
    await dryRunApply(configMap);
  });

  it('every metric name the autoscalers, adapter rules and alerts use is exported by a running hub', async () => {
    const exported = exportedNames(exposition);
    const missing = (names: string[]) => [...new Set(names)].filter((name) => !exported.has(name));
    // The check can fail: a name the hub does not export is reported.
    expect(missing(['trigger_hub_events_delivered_total', 'trigger_hub_not_a_metric'])).toEqual([
      'trigger_hub_not_a_metric',
    ]);

    // The adapter rules read only exported series, and serve every External metric an HPA names.
    const served = new Set(adapterConfig.externalRules.map((rule) => rule.name.as));
    const ruleNames = adapterConfig.externalRules.flatMap((rule) => [
      ...promqlNames(rule.seriesQuery),
      ...promqlNames(rule.metricsQuery),
      rule.name.matches.replace(/^\^|\$$/g, ''),
    ]);
    expect(missing(ruleNames)).toEqual([]);

    // The chart (hub HPA with every metric, hub ScaledObject, any PrometheusRule) and the controller's objects.
    const rendered = [
      ...(await render({
        'autoscaling.enabled': 'true',
        'autoscaling.backlogPerReplica': '500',
        'autoscaling.eventsPerSecondPerReplica': '300',
        'serviceMonitor.enabled': 'true',
      })),
      ...(await render({ 'keda.enabled': 'true', 'keda.eventsPerSecondPerReplica': '400' })),
    ];
    const { triggers } = parseTriggers(
      [
        `apiVersion: triggerhub.io/v1alpha1\nkind: Trigger\nmetadata: { name: fn, namespace: ${ns} }`,
        'spec:',
        '  source: { webhook: {} }',
        '  target: { http: { url: "http://fn/" } }',
        '  scaling: { provider: keda, targetRef: { name: fn }, minReplicas: 0, targetBacklog: 10 }',
      ].join('\n'),
      'test',
    );
    const trigger = triggers[0]!.trigger;
    const scaling = trigger.spec.scaling!;
    const controllerObjects = [
      buildHpa(trigger, { ...scaling, provider: 'hpa', minReplicas: 1 }),
      buildScaledObject(trigger, scaling, 'http://prometheus:9090'),
    ];
    const used = namesUsedBy([...rendered, ...controllerObjects]);
    expect(used.external.length).toBeGreaterThanOrEqual(4);
    expect(used.external.filter((name) => !served.has(name))).toEqual([]);
    expect(used.promql.length).toBeGreaterThanOrEqual(4);
    expect(missing(used.promql)).toEqual([]);

    // Every metric name the docs mention (alerts, queries, tables).
    const documented = readdirSync(resolve(root, 'docs'))
      .filter((file) => file.endsWith('.md'))
      .flatMap((file) => promqlNames(readFileSync(resolve(root, 'docs', file), 'utf8')))
      // A bare prefix (`trigger_hub_`) and the adapter's External metric names are not Prometheus series.
      .filter((name) => !name.endsWith('_') && !served.has(name));
    expect(missing(documented)).toEqual([]);

    // The series the selectors match on carry the labels they select by.
    for (const name of ['trigger_hub_events_delivered_total', 'trigger_hub_queue_backlog'])
      expect(exposition).toMatch(
        new RegExp(`^${name}\\{[^}]*trigger_namespace="${ns}",trigger_name="fn"[^}]*\\} \\d+`, 'm'),
      );
    expect(exposition).toMatch(
      new RegExp(`^trigger_hub_events_delivered_total\\{[^}]*trigger="${ns}/fn"[^}]*\\} 5$`, 'm'),
    );
  });
});
