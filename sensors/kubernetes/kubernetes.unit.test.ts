import { describe, expect, it } from 'vitest';
import type { ApiResource, KubeObject } from '../../src/controller/kube-client.ts';
import { isLegalExtensionName } from '../../src/envelope/event.ts';
import { triggerSchema } from '../../src/trigger/schema.ts';
import { diffAgainstSeen, type SeenObject, toEventInput } from './events.ts';
import { watchIdentity } from './sensor.ts';
import { kubernetesSpec } from './spec.ts';

const configMaps: ApiResource = {
  group: '',
  version: 'v1',
  apiVersion: 'v1',
  resource: 'configmaps',
  kind: 'ConfigMap',
  namespaced: true,
};

function configMap(name: string, uid: string, rv: string): KubeObject {
  return { metadata: { name, namespace: 'apps', uid, resourceVersion: rv }, data: { k: 'v' } };
}

describe('watch event → CloudEvent', () => {
  it('has the deterministic id of uid, resourceVersion and type, and the fission headers', () => {
    const event = toEventInput(
      { type: 'MODIFIED', object: configMap('a', 'u-1', '42') },
      configMaps,
      kubernetesSpec.parse({ kind: 'ConfigMap' }),
    );
    expect(event.id).toBe('k8s/u-1/42/MODIFIED');
    expect(event.k8seventtype).toBe('MODIFIED');
    expect(event.k8skind).toBe('ConfigMap');
    expect(event.source).toBe('/api/v1/configmaps');
    expect(event.subject).toBe('/api/v1/namespaces/apps/configmaps/a');
    expect(event.type).toBe('io.triggerhub.kubernetes.modified');
    expect(event.data).toMatchObject({ apiVersion: 'v1', kind: 'ConfigMap', data: { k: 'v' } });
    expect(event.k8ssynthetic).toBeUndefined();
    for (const key of Object.keys(event).filter((k) => k.startsWith('k8s')))
      expect(isLegalExtensionName(key), key).toBe(true);
  });

  it('carries only a reference when the trigger asks for one', () => {
    const event = toEventInput(
      { type: 'ADDED', object: configMap('a', 'u-1', '42'), synthetic: 'initial' },
      configMaps,
      kubernetesSpec.parse({ kind: 'ConfigMap', payload: 'reference', namespace: 'apps' }),
    );
    expect(event.data).toEqual({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'a', namespace: 'apps', uid: 'u-1', resourceVersion: '42' },
    });
    expect(event.source).toBe('/api/v1/namespaces/apps/configmaps');
    expect(event.k8ssynthetic).toBe('initial');
  });
});

describe('relist difference', () => {
  it('reports new objects as ADDED, moved versions as MODIFIED and vanished ones as DELETED', () => {
    const seen = new Map<string, SeenObject>([
      ['u-same', { rv: '10', name: 'same', namespace: 'apps' }],
      ['u-changed', { rv: '11', name: 'changed', namespace: 'apps' }],
      ['u-gone', { rv: '12', name: 'gone', namespace: 'apps' }],
    ]);
    const listed = [
      configMap('same', 'u-same', '10'),
      configMap('changed', 'u-changed', '20'),
      configMap('new', 'u-new', '21'),
    ];
    const changes = diffAgainstSeen(seen, listed, configMaps);
    expect(changes.map((c) => [c.type, c.object.metadata?.name, c.synthetic])).toEqual([
      ['MODIFIED', 'changed', 'relist'],
      ['ADDED', 'new', 'relist'],
      ['DELETED', 'gone', 'relist'],
    ]);
    const deleted = toEventInput(changes[2]!, configMaps, kubernetesSpec.parse({ kind: 'ConfigMap' }));
    expect(deleted.id).toBe('k8s/u-gone/12/DELETED');
    expect(deleted.k8ssynthetic).toBe('relist');
  });

  it('reports nothing when nothing changed', () => {
    const seen = new Map<string, SeenObject>([['u-1', { rv: '5', name: 'a', namespace: 'apps' }]]);
    expect(diffAgainstSeen(seen, [configMap('a', 'u-1', '5')], configMaps)).toEqual([]);
  });
});

describe('kubernetes source spec', () => {
  it('requires exactly one of kind and resource', () => {
    expect(kubernetesSpec.safeParse({}).success).toBe(false);
    expect(kubernetesSpec.safeParse({ kind: 'Pod', resource: 'pods' }).success).toBe(false);
    expect(kubernetesSpec.parse({ resource: 'pods' }).eventTypes).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
  });

  it('is part of the Trigger schema', () => {
    const parsed = triggerSchema.safeParse({
      apiVersion: 'triggerhub.io/v1alpha1',
      kind: 'Trigger',
      metadata: { name: 'pods' },
      spec: {
        source: { kubernetes: { kind: 'Pod', eventTypes: ['MODIFIED'] } },
        target: { http: { url: 'http://127.0.0.1:1/fn' } },
      },
    });
    expect(parsed.success).toBe(true);
  });

  it('starts over (new checkpoint) when what is watched changes', () => {
    const base = kubernetesSpec.parse({ kind: 'ConfigMap', namespace: 'a' });
    expect(watchIdentity(base)).toBe(watchIdentity({ ...base, payload: 'reference' }));
    expect(watchIdentity(base)).not.toBe(watchIdentity({ ...base, labelSelector: 'x=y' }));
  });
});
