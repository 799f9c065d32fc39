// Leader election on a coordination.k8s.io/v1 Lease, in the manner of client-go's leaderelection (client-node
// has none): the holder renews every `retryPeriodMs`; another replica takes the Lease over only after it has
// watched the same renewTime for a whole lease duration (its own clock, so clock skew between nodes does not
// matter). Optimistic concurrency (resourceVersion) decides races: a 409 means someone else won the round.
// Only the work that must run once uses it (Trigger status writes); sensors run on every replica.

import type { Logger } from 'pino';
import { errorMessage } from '../errors.ts';
import { sleep } from '../retry/backoff.ts';
import { isConflict, isNotFound, type KubeClient } from './kube-client.ts';

interface Lease {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

export interface LeaderElectorOptions {
  client: KubeClient;
  namespace: string;
  name: string;
  identity: string;
  log: Logger;
  leaseDurationMs?: number;
  retryPeriodMs?: number;
  onChange?: (leader: boolean) => void;
}

/** MicroTime: RFC 3339 with exactly six fractional digits. */
function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export class LeaderElector {
  private readonly options: Required<Omit<LeaderElectorOptions, 'onChange'>> &
    Pick<LeaderElectorOptions, 'onChange'>;
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  private leader = false;
  /** When this replica last renewed successfully (leadership lapses without renewal). */
  private renewedAt = 0;
  private observed: { renewTime: string | undefined; holder: string | undefined; at: number } | undefined;

  constructor(options: LeaderElectorOptions) {
    this.options = { leaseDurationMs: 15_000, retryPeriodMs: 2_000, ...options };
  }

  get path(): string {
    const { namespace, name } = this.options;
    return `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/${name}`;
  }

  isLeader(): boolean {
    return this.leader && Date.now() - this.renewedAt < this.options.leaseDurationMs;
  }

  start(): void {
    this.running ??= this.loop();
  }

  /** Stops renewing and releases the Lease so another replica takes over at once. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
    if (!this.leader) return;
    this.setLeader(false);
    try {
      const lease = await this.options.client.get<Lease>(this.path);
      if (lease.spec.holderIdentity !== this.options.identity) return;
      lease.spec.holderIdentity = null;
      lease.spec.leaseDurationSeconds = 1;
      await this.options.client.request('PUT', this.path, { body: lease });
    } catch (error) {
      this.options.log.warn({ err: errorMessage(error) }, 'could not release the leader lease');
    }
  }

  private setLeader(leader: boolean): void {
    if (leader === this.leader) return;
    this.leader = leader;
    this.options.log.info(
      { lease: this.path, identity: this.options.identity, leader },
      'leadership changed',
    );
    this.options.onChange?.(leader);
  }

  private async loop(): Promise<void> {
    while (!this.abort.signal.aborted) {
      try {
        const leader = await this.tryAcquireOrRenew();
        if (leader) this.renewedAt = Date.now();
        this.setLeader(leader);
      } catch (error) {
        this.options.log.warn({ err: errorMessage(error) }, 'leader election round failed');
        if (!this.isLeader()) this.setLeader(false);
      }
      await sleep(this.options.retryPeriodMs, this.abort.signal);
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { client, identity, namespace, name, leaseDurationMs } = this.options;
    const now = new Date();
    const durationSeconds = Math.ceil(leaseDurationMs / 1000);
    let lease: Lease;
    try {
      lease = await client.get<Lease>(this.path);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      const created: Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name, namespace },
        spec: {
          holderIdentity: identity,
          leaseDurationSeconds: durationSeconds,
          acquireTime: microTime(now),
          renewTime: microTime(now),
          leaseTransitions: 0,
        },
      };
      try {
        await client.request('POST', `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`, {
          body: created,
        });
        return true;
      } catch (createError) {
        if (isConflict(createError)) return false;
        throw createError;
      }
    }
    const holder = lease.spec.holderIdentity ?? undefined;
    const renewTime = lease.spec.renewTime;
    if (!this.observed || this.observed.renewTime !== renewTime || this.observed.holder !== holder)
      this.observed = { renewTime, holder, at: Date.now() };
    const heldByOther = holder && holder !== identity;
    const duration = (lease.spec.leaseDurationSeconds ?? durationSeconds) * 1000;
    if (heldByOther && Date.now() - this.observed.at < duration) return false;
    const takingOver = holder !== identity;
    lease.spec = {
      ...lease.spec,
      holderIdentity: identity,
      leaseDurationSeconds: durationSeconds,
      renewTime: microTime(now),
      ...(takingOver
        ? { acquireTime: microTime(now), leaseTransitions: (lease.spec.leaseTransitions ?? 0) + 1 }
        : {}),
    };
    try {
      await client.request('PUT', this.path, { body: lease });
      return true;
    } catch (error) {
      if (isConflict(error)) return false;
      throw error;
    }
  }
}
