// `spec.scaling`: the autoscaler of a Trigger's target workload. The leader (lease.ts) makes, for each Trigger
// with spec.scaling, one autoscaling/v2 HorizontalPodAutoscaler on External metrics that prometheus-adapter
// serves from the hub's metrics (deploy/prometheus-adapter/), or one KEDA ScaledObject with Prometheus
// triggers; it updates it when the spec changes and deletes it when the Trigger or its spec.scaling goes.
// Names are derived from the Trigger, so two replicas (a lease hand-over) converge on one object; the
// ownerReference lets the cluster's garbage collector remove it too should the hub be gone.

import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { errorMessage } from '../errors.ts';
import { scalingMetrics } from '../metrics.ts';
import { apiGroup, apiVersion, type ScalingSpec, type Trigger } from '../trigger/schema.ts';
import { isConflict, isNotFound, KubeApiError, type KubeClient, type KubeObject } from './kube-client.ts';

export const managedBy = { label: 'app.kubernetes.io/managed-by', value: 'trigger-hub' } as const;
/** `namespace/name` of the owning Trigger. */
export const triggerAnnotation = 'triggerhub.io/trigger';
/** A digest of what the hub wrote: an unchanged spec is not written again. */
export const specHashAnnotation = 'triggerhub.io/scaling-hash';

/** External metric names served by the prometheus-adapter rules in deploy/ (an HPA names these). */
export const externalMetrics = {
  deliveredPerSecond: 'trigger_hub_events_delivered_per_second',
  backlog: 'trigger_hub_queue_backlog',
} as const;

/** The PromQL window of rate(): four scrapes at the chart's 30 s ServiceMonitor interval. */
export const rateWindow = '2m';

interface Kind {
  apiVersion: string;
  kind: string;
  resource: string;
}
export const hpaKind: Kind = {
  apiVersion: 'autoscaling/v2',
  kind: 'HorizontalPodAutoscaler',
  resource: 'horizontalpodautoscalers',
};
export const scaledObjectKind: Kind = {
  apiVersion: 'keda.sh/v1alpha1',
  kind: 'ScaledObject',
  resource: 'scaledobjects',
};

export interface ScalingResult {
  ok: boolean;
  reason: string;
  message: string;
}

/**
 * The autoscaler's name: `th-<trigger>`, at most 63 characters because KEDA copies a ScaledObject's name into
 * a label value of the HPA it makes; a longer Trigger name is cut and suffixed with a hash of the whole.
 */
export function scalerName(triggerName: string): string {
  const name = `th-${triggerName}`;
  if (name.length <= 63) return name;
  const hash = createHash('sha256').update(triggerName).digest('hex').slice(0, 8);
  return `${name.slice(0, 54).replace(/[-.]+$/, '')}-${hash}`;
}

function metadataFor(trigger: Trigger, kind: Kind, spec: unknown): KubeObject['metadata'] {
  const { name, namespace, uid } = trigger.metadata;
  // The owner's uid too: a Trigger deleted and made again under its name gets its object re-owned.
  const hash = createHash('sha256').update(JSON.stringify({ spec, uid })).digest('hex').slice(0, 16);
  return {
    name: scalerName(name),
    namespace,
    labels: { [managedBy.label]: managedBy.value },
    annotations: {
      [triggerAnnotation]: `${namespace}/${name}`,
      [specHashAnnotation]: `${kind.kind}-${hash}`,
    },
    ...(uid
      ? {
          ownerReferences: [
            { apiVersion: `${apiGroup}/${apiVersion}`, kind: 'Trigger', name, uid, controller: true },
          ],
        }
      : {}),
  };
}

/** Backlog per replica when none is set but KEDA must wake a function from zero: ten seconds of targetQps. */
function backlogTarget(scaling: ScalingSpec): number {
  return scaling.targetBacklog ?? Math.max(1, Math.ceil(scaling.targetQps * 10));
}

/** The HPA for one Trigger: External metrics selected by `trigger_name`, in the Trigger's namespace. */
export function buildHpa(trigger: Trigger, scaling: ScalingSpec): KubeObject {
  const selector = { matchLabels: { trigger_name: trigger.metadata.name } };
  const external = (name: string, averageValue: number) => ({
    type: 'External',
    external: {
      metric: { name, selector },
      target: { type: 'AverageValue', averageValue: String(averageValue) },
    },
  });
  const spec = {
    scaleTargetRef: scaling.targetRef,
    minReplicas: scaling.minReplicas,
    maxReplicas: scaling.maxReplicas,
    metrics: [
      external(externalMetrics.deliveredPerSecond, scaling.targetQps),
      ...(scaling.targetBacklog ? [external(externalMetrics.backlog, scaling.targetBacklog)] : []),
    ],
  };
  return {
    apiVersion: hpaKind.apiVersion,
    kind: hpaKind.kind,
    metadata: metadataFor(trigger, hpaKind, spec),
    spec,
  };
}

/** PromQL of one Trigger's delivered qps (summed over hub replicas) and backlog (the same on each: max). */
export function scalingQueries(trigger: Trigger): { qps: string; backlog: string } {
  const selector = `{trigger="${trigger.metadata.namespace}/${trigger.metadata.name}"}`;
  return {
    qps: `sum(rate(${scalingMetrics.delivered}${selector}[${rateWindow}]))`,
    backlog: `max(${scalingMetrics.backlog}${selector})`,
  };
}

/** The KEDA ScaledObject for one Trigger. At zero replicas nothing is delivered, so the backlog wakes it. */
export function buildScaledObject(trigger: Trigger, scaling: ScalingSpec, prometheusUrl: string): KubeObject {
  const queries = scalingQueries(trigger);
  const prometheus = (name: string, query: string, threshold: number) => ({
    type: 'prometheus',
    name,
    metadata: { serverAddress: prometheusUrl, query, threshold: String(threshold) },
  });
  const withBacklog = scaling.targetBacklog !== undefined || scaling.minReplicas === 0;
  const spec = {
    scaleTargetRef: scaling.targetRef,
    minReplicaCount: scaling.minReplicas,
    maxReplicaCount: scaling.maxReplicas,
    triggers: [
      prometheus('delivered-qps', queries.qps, scaling.targetQps),
      ...(withBacklog ? [prometheus('backlog', queries.backlog, backlogTarget(scaling))] : []),
    ],
  };
  return {
    apiVersion: scaledObjectKind.apiVersion,
    kind: scaledObjectKind.kind,
    metadata: metadataFor(trigger, scaledObjectKind, spec),
    spec,
  };
}

export interface ScalingReconcilerOptions {
  client: KubeClient;
  log: Logger;
  /** The namespaces the controller watches; all when empty. */
  namespaces: string[];
  /** Prometheus for KEDA's triggers (TH_PROMETHEUS_URL). */
  prometheusUrl?: string | undefined;
}

interface Desired {
  key: string;
  kind: Kind;
  object: KubeObject;
}

const fieldManager = 'trigger-hub';

function scaledTarget(object: KubeObject): string {
  const { kind, name } = (object.spec as { scaleTargetRef: { kind: string; name: string } }).scaleTargetRef;
  return `${kind} ${name}`;
}

function objectPath(kind: Kind, namespace: string, name?: string): string {
  const base = `/apis/${kind.apiVersion}/namespaces/${encodeURIComponent(namespace)}/${kind.resource}`;
  return name ? `${base}/${encodeURIComponent(name)}` : base;
}

export class ScalingReconciler {
  /** The outcome per Trigger key, for its AutoscalerReady status condition. */
  readonly results = new Map<string, ScalingResult>();
  private readonly options: ScalingReconcilerOptions;
  private readonly log: Logger;

  constructor(options: ScalingReconcilerOptions) {
    this.options = options;
    this.log = options.log.child({ component: 'scaling' });
  }

  /**
   * Makes the cluster's managed autoscalers match `triggers` (the valid Triggers). Those of `invalid` (Triggers
   * whose current spec is invalid) are left as they are: a typo must not remove a function's autoscaler.
   */
  async reconcile(triggers: Trigger[], invalid: Set<string>): Promise<void> {
    const keep = new Set(invalid);
    const desired = new Map<string, Desired>();
    const results = new Map<string, ScalingResult>();
    for (const trigger of triggers) {
      const scaling = trigger.spec.scaling;
      if (!scaling) continue;
      const key = `${trigger.metadata.namespace}/${trigger.metadata.name}`;
      const refused = this.refusal(trigger, scaling);
      if (refused) {
        results.set(key, refused);
        keep.add(key);
        continue;
      }
      const kind = scaling.provider === 'keda' ? scaledObjectKind : hpaKind;
      const object =
        scaling.provider === 'keda'
          ? buildScaledObject(trigger, scaling, this.options.prometheusUrl!)
          : buildHpa(trigger, scaling);
      desired.set(`${kind.kind}/${key}`, { key, kind, object });
    }
    const existing = new Map<string, KubeObject>();
    /** Why a kind cannot be managed (not served, or not allowed), by kind. */
    const unavailable = new Map<Kind, ScalingResult>();
    for (const kind of [hpaKind, scaledObjectKind]) {
      const { items, refused } = await this.listManaged(kind);
      if (refused) unavailable.set(kind, refused);
      for (const item of items.filter(ownedByTrigger))
        existing.set(`${kind.kind}/${item.metadata?.namespace}/${item.metadata?.name}`, item);
    }
    for (const want of desired.values()) {
      const { namespace, name } = want.object.metadata as { namespace: string; name: string };
      const current = existing.get(`${want.kind.kind}/${namespace}/${name}`);
      existing.delete(`${want.kind.kind}/${namespace}/${name}`);
      const refused = unavailable.get(want.kind);
      if (refused) {
        results.set(want.key, refused);
        continue;
      }
      const annotations = (object: KubeObject | undefined) =>
        object?.metadata?.annotations as Record<string, string> | undefined;
      const unchanged =
        annotations(current)?.[specHashAnnotation] === annotations(want.object)?.[specHashAnnotation];
      try {
        if (!current || !unchanged) await this.write(want, current !== undefined);
        results.set(want.key, {
          ok: true,
          reason: `${want.kind.kind}Applied`,
          message: `${want.kind.kind} ${name} scales ${scaledTarget(want.object)}`,
        });
      } catch (error) {
        const message = errorMessage(error);
        // Retried every resync: say it once per distinct error, the status condition keeps saying it.
        if (this.results.get(want.key)?.message !== message)
          this.log.warn({ trigger: want.key, err: message }, 'could not write the autoscaler');
        results.set(want.key, { ok: false, reason: 'AutoscalerRejected', message });
      }
    }
    // What is left is managed by the hub but no longer wanted: its Trigger or its spec.scaling is gone.
    for (const [id, object] of existing) {
      const owner = (object.metadata?.annotations as Record<string, string> | undefined)?.[triggerAnnotation];
      if (owner && keep.has(owner)) continue;
      const kind = id.startsWith(`${hpaKind.kind}/`) ? hpaKind : scaledObjectKind;
      const { namespace, name } = object.metadata as { namespace: string; name: string };
      try {
        await this.options.client.request('DELETE', objectPath(kind, namespace, name));
        this.log.info({ trigger: owner, [kind.kind]: `${namespace}/${name}` }, 'autoscaler deleted');
      } catch (error) {
        if (!isNotFound(error))
          this.log.warn({ trigger: owner, err: errorMessage(error) }, 'could not delete the autoscaler');
      }
    }
    this.results.clear();
    for (const [key, result] of results) this.results.set(key, result);
  }

  private refusal(trigger: Trigger, scaling: ScalingSpec): ScalingResult | undefined {
    // The HPA selects the metric by label, and a label value has at most 63 characters.
    if (scaling.provider === 'hpa' && trigger.metadata.name.length > 63)
      return {
        ok: false,
        reason: 'NameTooLong',
        message: `spec.scaling (provider hpa) needs a Trigger name of at most 63 characters (a label value); use provider keda or a shorter name`,
      };
    if (scaling.provider === 'keda' && !this.options.prometheusUrl)
      return {
        ok: false,
        reason: 'NoPrometheusAddress',
        message:
          'spec.scaling.provider keda needs the Prometheus address of the hub (TH_PROMETHEUS_URL; Helm value scaling.prometheusUrl)',
      };
    return undefined;
  }

  /**
   * Managed objects of a kind in the watched namespaces. A kind the API server does not serve (KEDA not
   * installed) or that the hub may not list (RBAC) is refused, not an error: only Triggers that ask for it care.
   */
  private async listManaged(kind: Kind): Promise<{ items: KubeObject[]; refused?: ScalingResult }> {
    const query = { labelSelector: `${managedBy.label}=${managedBy.value}` };
    const paths = this.options.namespaces.length
      ? this.options.namespaces.map((namespace) => objectPath(kind, namespace))
      : [`/apis/${kind.apiVersion}/${kind.resource}`];
    const items: KubeObject[] = [];
    for (const path of paths) {
      try {
        items.push(...(await this.options.client.listAll(path, query)).items);
      } catch (error) {
        if (isNotFound(error))
          return {
            items: [],
            refused: {
              ok: false,
              reason: kind === scaledObjectKind ? 'KedaNotInstalled' : 'NotServed',
              message: `the API server serves no ${kind.apiVersion} ${kind.kind}${kind === scaledObjectKind ? ': install KEDA or use provider hpa' : ''}`,
            },
          };
        if (error instanceof KubeApiError && error.status === 403)
          return {
            items: [],
            refused: {
              ok: false,
              reason: 'Forbidden',
              message: `the hub may not manage ${kind.resource}.${kind.apiVersion.split('/')[0]}: ${error.message} (Helm value rbac.scaling)`,
            },
          };
        throw error;
      }
    }
    return { items };
  }

  /**
   * Creates the object, or server-side-applies it over the managed one. A create that finds an object of
   * the same name the hub does not manage fails with a message that says so (never taken over).
   */
  private async write(want: Desired, managed: boolean): Promise<void> {
    const { client } = this.options;
    const { namespace, name } = want.object.metadata as { namespace: string; name: string };
    if (!managed) {
      try {
        await client.request('POST', objectPath(want.kind, namespace), { body: want.object });
        this.log.info({ trigger: want.key, [want.kind.kind]: `${namespace}/${name}` }, 'autoscaler created');
        return;
      } catch (error) {
        if (!isConflict(error)) throw error;
        const other = await client.get(objectPath(want.kind, namespace, name));
        if (other.metadata?.labels?.[managedBy.label] !== managedBy.value)
          throw new KubeApiError(
            409,
            `a ${want.kind.kind} named ${name} already exists in ${namespace} and is not managed by trigger-hub`,
            'AlreadyExists',
          );
      }
    }
    await client.request('PATCH', objectPath(want.kind, namespace, name), {
      query: { fieldManager, force: true },
      body: want.object,
      contentType: 'application/apply-patch+yaml',
    });
    this.log.info({ trigger: want.key, [want.kind.kind]: `${namespace}/${name}` }, 'autoscaler updated');
  }
}

/**
 * KEDA copies a ScaledObject's labels onto the HPA it makes: the ownerReference, not the label, tells the
 * hub's own objects apart (KEDA's HPA is owned by the ScaledObject).
 */
function ownedByTrigger(object: KubeObject): boolean {
  const owners = (object.metadata?.ownerReferences ?? []) as Array<{ apiVersion?: string; kind?: string }>;
  return owners.some((owner) => owner.kind === 'Trigger' && owner.apiVersion?.startsWith(`${apiGroup}/`));
}
