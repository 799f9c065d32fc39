// Controller mode (`trigger-hub run --kubernetes`): the Trigger custom resources of the cluster (all
// namespaces or a list) are the desired state. Each change is validated with the same schema as a file,
// the Secrets its secretKeyRefs name are read from its own namespace, and the whole set is applied to the
// engine. Every replica runs every Trigger's sensor (active-active; deterministic ids make a change read twice
// one event); only the holder of a Lease writes `status`, through the status subresource, and makes the
// autoscalers of `spec.scaling` (scaling.ts).

import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Engine } from '../engine/engine.ts';
import { errorMessage } from '../errors.ts';
import type { Instrumentation } from '../instrumentation.ts';
import type { RedisClient } from '../queue/redis.ts';
import { type DesiredTrigger, type InvalidTrigger, validateTrigger } from '../trigger/load.ts';
import { apiGroup, apiVersion, type Trigger, type TriggerStatus } from '../trigger/schema.ts';
import { bindClusterSecret, type SecretRef } from '../trigger/secret-ref.ts';
import { SharedCounters } from './counters.ts';
import { Informer, objectKey } from './informer.ts';
import { isNotFound, KubeClient, type KubeObject } from './kube-client.ts';
import { LeaderElector } from './lease.ts';
import { ScalingReconciler } from './scaling.ts';
import { buildStatus, statusChanged } from './status.ts';

export interface ControllerOptions {
  engine: Engine;
  instrumentation: Instrumentation;
  redis: RedisClient;
  log: Logger;
  client?: KubeClient;
  /** Watch the Triggers of these namespaces; all namespaces when empty or unset. */
  namespaces?: string[];
  /** Where the status-writer Lease lives (default: POD_NAMESPACE or "default"). */
  leaseNamespace?: string;
  leaseName?: string;
  identity?: string;
  statusIntervalMs?: number;
  /** Re-reconcile everything this often (default 30 s): e.g. a Secret created after its Trigger. */
  resyncIntervalMs?: number;
  /** Minimum time between status writes that only update counters (default 5 s). */
  countersIntervalMs?: number;
  leaseDurationMs?: number;
  retryPeriodMs?: number;
  /** Prometheus as KEDA reaches it, for `spec.scaling.provider: keda` (default: TH_PROMETHEUS_URL). */
  prometheusUrl?: string;
}

type Refusal = { reason: string; message: string };

export function triggersPath(namespace?: string): string {
  const base = `/apis/${apiGroup}/${apiVersion}`;
  return namespace ? `${base}/namespaces/${encodeURIComponent(namespace)}/triggers` : `${base}/triggers`;
}

/** Every `secretKeyRef` object in a Trigger's spec (target and source credentials alike). */
export function secretKeyRefs(value: unknown): Array<NonNullable<SecretRef['secretKeyRef']>> {
  const found: Array<NonNullable<SecretRef['secretKeyRef']>> = [];
  const visit = (node: unknown) => {
    if (Array.isArray(node)) node.forEach(visit);
    else if (node !== null && typeof node === 'object') {
      for (const [key, child] of Object.entries(node)) {
        if (key === 'secretKeyRef' && child && typeof child === 'object') {
          const ref = child as { name?: unknown; key?: unknown };
          if (typeof ref.name === 'string' && typeof ref.key === 'string')
            found.push(child as NonNullable<SecretRef['secretKeyRef']>);
        } else visit(child);
      }
    }
  };
  visit(value);
  return found;
}

export class TriggerController {
  private readonly options: ControllerOptions;
  private readonly client: KubeClient;
  private readonly informers: Informer[];
  private readonly elector: LeaderElector;
  private readonly counters: SharedCounters;
  private readonly scaling: ScalingReconciler;
  private readonly log: Logger;
  /** Triggers the controller could not hand to the engine (e.g. a missing Secret), by key. */
  private readonly refused = new Map<string, Refusal>();
  /** The generation each key was last reconciled at: a status-only change needs no reconcile. */
  private readonly generations = new Map<string, number | undefined>();
  private readonly lastWritten = new Map<string, string>();
  /** A digest of the Secret values each applied Trigger was started with. */
  private readonly secretDigests = new Map<string, string>();
  private readonly countersWrittenAt = new Map<string, number>();
  private reconcileTimer: NodeJS.Timeout | undefined;
  private reconciling: Promise<void> = Promise.resolve();
  private statusTimer: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private writingStatus = false;
  private stopped = false;

  constructor(options: ControllerOptions) {
    this.options = options;
    this.log = options.log.child({ component: 'controller' });
    this.client = options.client ?? new KubeClient();
    const namespaces = options.namespaces?.filter(Boolean) ?? [];
    const paths = namespaces.length > 0 ? namespaces.map(triggersPath) : [triggersPath()];
    this.informers = paths.map(
      (path) =>
        new Informer({
          client: this.client,
          path,
          log: this.log,
          onChange: (change) => this.onChange(change.type, change.object),
        }),
    );
    this.counters = new SharedCounters(options.instrumentation, options.redis);
    this.scaling = new ScalingReconciler({
      client: this.client,
      log: options.log,
      namespaces,
      prometheusUrl: options.prometheusUrl ?? process.env.TH_PROMETHEUS_URL,
    });
    this.elector = new LeaderElector({
      client: this.client,
      namespace: options.leaseNamespace ?? process.env.POD_NAMESPACE ?? 'default',
      name: options.leaseName ?? 'trigger-hub-status',
      identity: options.identity ?? `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
      log: this.log,
      ...(options.leaseDurationMs ? { leaseDurationMs: options.leaseDurationMs } : {}),
      ...(options.retryPeriodMs ? { retryPeriodMs: options.retryPeriodMs } : {}),
      onChange: (leader) => {
        if (leader) this.lastWritten.clear();
        // The new leader takes over the autoscalers at once (the old one may have left work undone).
        if (leader) this.scheduleReconcile(0);
      },
    });
  }

  /** Starts watching; resolves once every watched collection has been listed and applied. */
  async start(): Promise<void> {
    for (const informer of this.informers) informer.start();
    this.elector.start();
    await Promise.all(this.informers.map((informer) => informer.synced));
    this.scheduleReconcile(0);
    await this.waitForReconcile();
    const interval = this.options.statusIntervalMs ?? 1000;
    this.statusTimer = setInterval(() => void this.writeStatuses(), interval);
    this.resyncTimer = setInterval(() => this.scheduleReconcile(0), this.options.resyncIntervalMs ?? 30_000);
  }

  isLeader(): boolean {
    return this.elector.isLeader();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconcileTimer);
    clearInterval(this.statusTimer);
    clearInterval(this.resyncTimer);
    await Promise.all(this.informers.map((informer) => informer.stop()));
    await this.reconciling;
    await this.elector.stop();
    await this.counters.close();
  }

  private objects(): KubeObject[] {
    const all = new Map<string, KubeObject>();
    for (const informer of this.informers) for (const [key, object] of informer.cache) all.set(key, object);
    return [...all.values()];
  }

  private onChange(type: string, object: KubeObject | undefined): void {
    if (object && type === 'MODIFIED') {
      const key = objectKey(object);
      if (this.generations.has(key) && this.generations.get(key) === object.metadata?.generation) return;
    }
    this.scheduleReconcile(50);
  }

  private scheduleReconcile(delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.reconcileTimer);
    this.reconcileTimer = setTimeout(() => {
      this.reconciling = this.reconciling
        .then(() => this.reconcile())
        .catch((error) => {
          this.log.error({ err: errorMessage(error) }, 'reconcile failed; retrying');
          this.scheduleReconcile(1000);
        });
    }, delayMs);
  }

  private async waitForReconcile(): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 0));
    await this.reconciling;
  }

  private async reconcile(): Promise<void> {
    const desired: DesiredTrigger[] = [];
    const invalid: InvalidTrigger[] = [];
    /** Every Trigger whose spec is valid, whether or not it can run: its autoscaler does not need its Secrets. */
    const valid: Trigger[] = [];
    this.refused.clear();
    this.generations.clear();
    const secrets = new Map<string, Promise<Record<string, string> | undefined>>();
    const digests = new Map<string, string>();
    const rotated = new Set<string>();
    for (const object of this.objects()) {
      const key = objectKey(object);
      this.generations.set(key, object.metadata?.generation);
      const checked = validateTrigger(object, key);
      if (!checked.ok) {
        invalid.push(checked.invalid);
        continue;
      }
      valid.push(checked.trigger);
      const { refusal, digest } = await this.bindSecrets(checked.trigger, secrets);
      if (refusal) {
        this.refused.set(key, refusal);
        invalid.push({ key, origin: key, error: refusal.message });
        continue;
      }
      desired.push({ trigger: checked.trigger, origin: key });
      const before = this.secretDigests.get(key);
      if (before !== undefined && before !== digest && this.options.engine.get(key)?.running)
        rotated.add(key);
      digests.set(key, digest);
    }
    // A rotated Secret does not change the spec, so the engine would keep the running version: stop it
    // first, then start it again with the new value (its source resumes from its checkpoint).
    if (rotated.size > 0) {
      this.log.info({ triggers: [...rotated] }, 'referenced Secrets changed; restarting');
      await this.options.engine.apply(
        desired.filter(
          ({ trigger }) => !rotated.has(`${trigger.metadata.namespace}/${trigger.metadata.name}`),
        ),
        invalid,
      );
    }
    await this.options.engine.apply(desired, invalid);
    this.secretDigests.clear();
    for (const [key, digest] of digests) this.secretDigests.set(key, digest);
    await this.reconcileScaling(valid, invalid);
    void this.writeStatuses();
  }

  /** The leader alone writes autoscalers; a failure is in the Triggers' status and retried at the next resync. */
  private async reconcileScaling(valid: Trigger[], invalid: InvalidTrigger[]): Promise<void> {
    if (!this.elector.isLeader()) {
      this.scaling.results.clear();
      return;
    }
    try {
      await this.scaling.reconcile(valid, new Set(invalid.map((item) => item.key)));
    } catch (error) {
      this.log.warn({ err: errorMessage(error) }, 'autoscaler reconcile failed; retrying at the next resync');
    }
  }

  /** Reads the Secrets the Trigger references (its own namespace only) and binds their values to it. */
  private async bindSecrets(
    trigger: Trigger,
    cache: Map<string, Promise<Record<string, string> | undefined>>,
  ): Promise<{ refusal?: Refusal; digest: string }> {
    const namespace = trigger.metadata.namespace;
    // A digest of the values (never the values themselves) tells a rotated Secret apart.
    const digest = createHash('sha256');
    for (const ref of secretKeyRefs(trigger.spec)) {
      const cacheKey = `${namespace}/${ref.name}`;
      let data = cache.get(cacheKey);
      if (!data) {
        data = this.client
          .get<{ data?: Record<string, string> }>(
            `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(ref.name)}`,
          )
          .then(
            (secret) => secret.data ?? {},
            (error) => {
              if (isNotFound(error)) return undefined;
              throw error;
            },
          );
        cache.set(cacheKey, data);
      }
      let values: Record<string, string> | undefined;
      try {
        values = await data;
      } catch (error) {
        const message = `Secret ${ref.name} cannot be read: ${errorMessage(error)}`;
        return { refusal: { reason: 'SecretUnreadable', message }, digest: '' };
      }
      if (!values)
        return {
          refusal: { reason: 'SecretNotFound', message: `Secret ${namespace}/${ref.name} not found` },
          digest: '',
        };
      const encoded = values[ref.key];
      if (encoded === undefined) {
        const message = `Secret ${namespace}/${ref.name} has no key ${ref.key}`;
        return { refusal: { reason: 'SecretKeyNotFound', message }, digest: '' };
      }
      digest.update(`${ref.name}\0${ref.key}\0${encoded}\0`);
      bindClusterSecret(ref, Buffer.from(encoded, 'base64').toString('utf8'));
    }
    return { digest: digest.digest('hex') };
  }

  /** The leader writes each Trigger's status when it changed; other replicas only keep counting. */
  private async writeStatuses(): Promise<void> {
    if (this.writingStatus || this.stopped || !this.elector.isLeader()) return;
    this.writingStatus = true;
    try {
      for (const object of this.objects()) {
        if (this.stopped) break;
        await this.writeStatus(object).catch((error) =>
          this.log.warn({ trigger: objectKey(object), err: errorMessage(error) }, 'status write failed'),
        );
      }
    } finally {
      this.writingStatus = false;
    }
  }

  private async writeStatus(object: KubeObject): Promise<void> {
    const key = objectKey(object);
    const state = this.options.engine.get(key);
    const previous = object.status as TriggerStatus | undefined;
    const shared = await this.counters.read(key);
    const refusal = this.refused.get(key);
    const scaling = this.scaling.results.get(key);
    const status = buildStatus({
      state,
      generation: object.metadata?.generation,
      counters: shared.counters,
      ...(shared.lastEventTime ? { lastEventTime: shared.lastEventTime } : {}),
      ...(refusal ? { refused: refusal } : {}),
      ...(scaling ? { scaling } : {}),
      ...(previous ? { previous } : {}),
    });
    if (state?.state === 'invalid' && !refusal && state.error) {
      // The engine's message starts with the origin and key; the condition names the Trigger already.
      for (const condition of status.conditions ?? [])
        if (condition.message) condition.message = condition.message.replace(`${key}: Trigger ${key}: `, '');
    }
    if (!statusChanged(previous, status)) return;
    const serialized = JSON.stringify(status);
    if (this.lastWritten.get(key) === serialized) return;
    // Counters and the last event time move with every event: those alone are written every few seconds.
    const { counters: _c, lastEventTime: _t, ...significant } = status;
    const { counters: _pc, lastEventTime: _pt, ...previousSignificant } = previous ?? {};
    const countersOnly = !statusChanged(previousSignificant, significant);
    const interval = this.options.countersIntervalMs ?? 5000;
    if (countersOnly && Date.now() - (this.countersWrittenAt.get(key) ?? 0) < interval) return;
    const [namespace, name] = key.split('/');
    try {
      await this.client.request('PATCH', `${triggersPath(namespace)}/${encodeURIComponent(name!)}/status`, {
        body: { status },
        contentType: 'application/merge-patch+json',
      });
      this.lastWritten.set(key, serialized);
      this.countersWrittenAt.set(key, Date.now());
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
}
