// spec.scaling without a cluster: what the schema accepts, the names and queries of the autoscalers, and the
// two forms of the prometheus-adapter rules in deploy/ holding the same rules. The objects themselves are
// checked against the real kube-apiserver in test/integration/controller/scaling.test.ts.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildHpa, buildScaledObject, externalMetrics, scalerName } from '../../src/controller/scaling.ts';
import { parseTriggers } from '../../src/trigger/load.ts';
import type { Trigger } from '../../src/trigger/schema.ts';

const root = resolve(import.meta.dirname, '../..');

function load(scaling: string, name = 'orders') {
  return parseTriggers(
    [
      'apiVersion: triggerhub.io/v1alpha1',
      'kind: Trigger',
      `metadata: { name: ${name}, namespace: shop, uid: 0b7e4c1a-1111-2222-3333-444455556666 }`,
      'spec:',
      '  source: { webhook: {} }',
      '  target: { http: { url: "http://fn.shop.svc/" } }',
      `  scaling: ${scaling}`,
    ].join('\n'),
    't.yaml',
  );
}

function triggerWith(scaling: string, name?: string): Trigger {
  const { triggers, invalid } = load(scaling, name);
  expect(invalid).toEqual([]);
  return triggers[0]!.trigger;
}

describe('spec.scaling', () => {
  it('defaults to an HPA of a Deployment with 1 to 10 replicas at 50 events/s each', () => {
    expect(triggerWith('{ targetRef: { name: fn } }').spec.scaling).toEqual({
      provider: 'hpa',
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'fn' },
      minReplicas: 1,
      maxReplicas: 10,
      targetQps: 50,
    });
  });

  it('refuses scale to zero with an HPA and a ceiling under the floor, naming the field', () => {
    expect(load('{ targetRef: { name: fn }, minReplicas: 0 }').invalid[0]?.error).toContain(
      'spec.scaling.minReplicas: minReplicas 0 (scale to zero) needs provider keda',
    );
    expect(load('{ targetRef: { name: fn }, minReplicas: 5, maxReplicas: 2 }').invalid[0]?.error).toContain(
      'spec.scaling.maxReplicas: maxReplicas must be at least minReplicas',
    );
    expect(load('{ provider: keda, targetRef: { name: fn }, minReplicas: 0 }').invalid).toEqual([]);
  });

  it('names the autoscaler after the Trigger, within the 63 characters KEDA can label', () => {
    expect(scalerName('orders')).toBe('th-orders');
    const long = scalerName(`${'a'.repeat(70)}.b`);
    expect(long.length).toBeLessThanOrEqual(63);
    expect(long).toMatch(/^th-a+-[0-9a-f]{8}$/);
    expect(scalerName(`${'a'.repeat(70)}.c`)).not.toBe(long);
  });

  it('gives a changed spec a new hash, an unchanged one the same', () => {
    const hash = (t: Trigger) => buildHpa(t, t.spec.scaling!).metadata?.annotations;
    const a = triggerWith('{ targetRef: { name: fn } }');
    expect(hash(a)).toEqual(hash(triggerWith('{ targetRef: { name: fn } }')));
    expect(hash(a)).not.toEqual(hash(triggerWith('{ targetRef: { name: fn }, maxReplicas: 11 }')));
  });

  it('wakes a KEDA-scaled function from zero on its backlog (nothing is delivered at zero replicas)', () => {
    const t = triggerWith('{ provider: keda, targetRef: { name: fn }, minReplicas: 0, targetQps: 20 }');
    const triggers = (
      buildScaledObject(t, t.spec.scaling!, 'http://prom:9090').spec as { triggers: unknown[] }
    ).triggers;
    expect(triggers).toEqual([
      expect.objectContaining({ name: 'delivered-qps' }),
      {
        type: 'prometheus',
        name: 'backlog',
        metadata: {
          serverAddress: 'http://prom:9090',
          query: 'max(trigger_hub_queue_backlog{trigger="shop/orders"})',
          threshold: '200',
        },
      },
    ]);
  });
});

describe('docs/scaling.md', () => {
  it('shows a Trigger the schema accepts, and the HPA the controller makes of it', () => {
    const text = readFileSync(resolve(root, 'docs/scaling.md'), 'utf8');
    const blocks = [...text.matchAll(/```yaml\n([\s\S]*?)```/g)].map((match) => match[1]!);
    const { triggers, invalid } = parseTriggers(
      blocks.find((block) => block.includes('kind: Trigger'))!,
      'doc',
    );
    expect(invalid).toEqual([]);
    const trigger = triggers[0]!.trigger;
    const shown = parse(blocks.find((block) => block.includes('kind: HorizontalPodAutoscaler'))!);
    expect(shown.spec).toEqual(buildHpa(trigger, trigger.spec.scaling!).spec);
  });
});

describe('prometheus-adapter rules in deploy/', () => {
  const config = parse(readFileSync(resolve(root, 'deploy/prometheus-adapter/config.yaml'), 'utf8'));
  const values = parse(readFileSync(resolve(root, 'deploy/prometheus-adapter/values.yaml'), 'utf8'));
  const chartCopy = parse(
    readFileSync(resolve(root, 'deploy/helm/trigger-hub/files/prometheus-adapter-config.yaml'), 'utf8'),
  );

  it('are the same in the adapter config, the adapter chart values and the hub chart', () => {
    expect(values.rules.external).toEqual(config.externalRules);
    expect(chartCopy).toEqual(config);
  });

  it('serve every External metric the controller HPAs name', () => {
    const served = new Set(config.externalRules.map((rule: { name: { as: string } }) => rule.name.as));
    for (const name of Object.values(externalMetrics)) expect(served).toContain(name);
  });
});
