// Pure parts of the kubernetes sensor: a watch event → CloudEvent, and the difference between what the
// sensor had seen and a fresh list (what a relist after 410 Gone must emit so nothing is silently skipped).

import { type ApiResource, collectionPath, type KubeObject } from '../../src/controller/kube-client.ts';
import type { EventInput } from '../../src/envelope/event.ts';
import { eventId } from '../../src/envelope/ids.ts';
import type { KubernetesSpec, WatchEventType } from './spec.ts';

/** `k8s/<uid>/<resourceVersion>/<type>`: one change of one object. */
export const kubernetesEventId = (uid: string, resourceVersion: string, eventType: string) =>
  eventId('k8s', uid, resourceVersion, eventType);

/** What the sensor remembers per object (uid): enough to diff and to name a deleted object. */
export interface SeenObject {
  rv: string;
  name: string;
  namespace?: string;
}

/** `relist`: the difference found after a 410; `initial`: an object that existed when the trigger started. */
export type Synthetic = 'relist' | 'initial';

export interface ObjectChange {
  type: WatchEventType;
  object: KubeObject;
  synthetic?: Synthetic;
}

export function seenOf(object: KubeObject): SeenObject {
  const meta = object.metadata ?? {};
  return {
    rv: meta.resourceVersion ?? '',
    name: meta.name ?? '',
    ...(meta.namespace ? { namespace: meta.namespace } : {}),
  };
}

function reference(object: KubeObject, resource: ApiResource): KubeObject {
  const meta = object.metadata ?? {};
  return {
    apiVersion: object.apiVersion ?? resource.apiVersion,
    kind: object.kind ?? resource.kind,
    metadata: {
      name: meta.name,
      ...(meta.namespace ? { namespace: meta.namespace } : {}),
      uid: meta.uid,
      resourceVersion: meta.resourceVersion,
    },
  };
}

export function toEventInput(
  change: ObjectChange,
  resource: ApiResource,
  spec: Pick<KubernetesSpec, 'payload' | 'namespace'>,
): EventInput {
  const { type, object, synthetic } = change;
  const meta = object.metadata ?? {};
  const uid = meta.uid ?? `${meta.namespace ?? ''}/${meta.name ?? ''}`;
  const rv = meta.resourceVersion ?? '';
  const kind = object.kind ?? resource.kind;
  const data =
    spec.payload === 'reference'
      ? reference(object, resource)
      : { ...object, apiVersion: object.apiVersion ?? resource.apiVersion, kind };
  const event: EventInput = {
    id: kubernetesEventId(uid, rv, type),
    source: collectionPath(resource, spec.namespace),
    type: `io.triggerhub.kubernetes.${type.toLowerCase()}`,
    subject: `${collectionPath(resource, meta.namespace)}/${meta.name ?? ''}`,
    datacontenttype: 'application/json',
    data,
    k8seventtype: type,
    k8skind: kind,
    k8sapiversion: resource.apiVersion,
    k8sname: meta.name ?? '',
    k8sresourceversion: rv,
  };
  if (meta.namespace) event.k8snamespace = meta.namespace;
  if (synthetic) event.k8ssynthetic = synthetic;
  return event;
}

/**
 * The changes that turn `seen` into `listed`: objects new to the sensor are ADDED, objects whose
 * resourceVersion moved are MODIFIED, objects that are gone are DELETED (a reference to the last version
 * seen: the object itself no longer exists). Ordered: list order, then deletions by name.
 */
export function diffAgainstSeen(
  seen: Map<string, SeenObject>,
  listed: KubeObject[],
  resource: Pick<ApiResource, 'apiVersion' | 'kind'>,
): ObjectChange[] {
  const changes: ObjectChange[] = [];
  const present = new Set<string>();
  for (const object of listed) {
    const uid = object.metadata?.uid;
    if (!uid) continue;
    present.add(uid);
    const before = seen.get(uid);
    if (!before) changes.push({ type: 'ADDED', object, synthetic: 'relist' });
    else if (before.rv !== object.metadata?.resourceVersion)
      changes.push({ type: 'MODIFIED', object, synthetic: 'relist' });
  }
  const gone = [...seen.entries()]
    .filter(([uid]) => !present.has(uid))
    .sort(([, a], [, b]) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
  for (const [uid, last] of gone) {
    changes.push({
      type: 'DELETED',
      synthetic: 'relist',
      object: {
        apiVersion: resource.apiVersion,
        kind: resource.kind,
        metadata: {
          uid,
          name: last.name,
          ...(last.namespace ? { namespace: last.namespace } : {}),
          resourceVersion: last.rv,
        },
      },
    });
  }
  return changes;
}

/** A watch ERROR event's Status: expired (410 Gone / Expired: relist) or another failure (restart). */
export function classifyWatchError(status: { code?: number; reason?: string; message?: string }): {
  expired: boolean;
  message: string;
} {
  const expired = status.code === 410 || status.reason === 'Expired' || status.reason === 'Gone';
  return { expired, message: status.message ?? (expired ? 'resourceVersion expired' : 'watch error') };
}
