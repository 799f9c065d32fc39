// One fault scenario, the same shape every time: a hub process running Triggers for the chosen sources, a
// steady load into each, the fault (which may kill and replace the hub), a little more load, then wait until
// every produced event was delivered, check nothing was dead-lettered, and record the table's row.

import { expect } from 'vitest';
import {
  freePort,
  type HubProcess,
  spawnHub,
  type TriggerDoc,
  uniqueNamespace,
  writeTriggerDir,
} from '../../support/hub.ts';
import type { Received, Reply } from '../../support/sink.ts';
import { waitFor } from '../../support/wait.ts';
import { faultInstances } from './instances.ts';
import { type Ledger, queuedEventIds, startLedger, unfinishedJobs } from './ledger.ts';
import {
  cronTrigger,
  jetStreamSource,
  kafkaSource,
  kinesisSource,
  type Load,
  minioSource,
  type SourceFixture,
  watchSource,
  webhookLoad,
  webhookTrigger,
} from './load.ts';
import { recordRow, type ScenarioRow } from './report.ts';

export type SourceKind = 'webhook' | 'cron' | 'kafka' | 'jetstream' | 'kinesis' | 'minio' | 'watch';

export interface ScenarioContext {
  hub: HubProcess;
  ledger: Ledger;
  loads: Load[];
  /** SIGKILLs (or SIGTERMs) the hub and starts a new one on the same port and Triggers. */
  restartHub(signal?: NodeJS.Signals): Promise<HubProcess>;
  namespace: string;
}

export interface ScenarioOptions {
  /** The table's scenario name. */
  name: string;
  sources: SourceKind[];
  /** Events per second into each source (cron: one tick a second). */
  rate: number;
  respond?: (request: Received) => Reply;
  /** Overrides of the Triggers' delivery settings. */
  delivery?: Record<string, unknown>;
  /** The target URL, when something stands between the hub and the sink (a proxy). */
  targetUrl?: (sinkUrl: string) => Promise<string>;
  hubEnv?: NodeJS.ProcessEnv;
  /** Load before the fault starts. */
  warmupMs?: number;
  /** Load after the fault ended. */
  cooldownMs?: number;
  /** Does the damage; resolves when it is over (the time to recover counts from then). */
  fault(context: ScenarioContext): Promise<void>;
  drainTimeoutMs?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A trigger's unfinished jobs once its queue settled: polled until none is left or `timeoutMs` passed. A
 * dead letter ends the wait at once (it never leaves by itself).
 */
async function settledJobs(triggerKey: string, timeoutMs: number): Promise<Record<string, number>> {
  let left: Record<string, number> = {};
  const settled = async () => {
    left = await unfinishedJobs(triggerKey);
    return Object.keys(left).length === 0 || Boolean(left.failed);
  };
  await waitFor(settled, timeoutMs, `${triggerKey} to settle`, { intervalMs: 500 }).catch(() => {}); // what is left is checked
  return left;
}

const defaultDelivery = { retries: 100, backoff: { initialMs: 100, maxMs: 2000 }, concurrency: 16 };

export async function runScenario(options: ScenarioOptions): Promise<ScenarioRow> {
  const instances = faultInstances();
  const ledger = await startLedger(options.respond);
  const namespace = uniqueNamespace('fault');
  const url = options.targetUrl ? await options.targetUrl(ledger.sink.url) : ledger.sink.url;
  const sources: Array<{ kind: SourceKind; fixture: SourceFixture }> = [];
  const triggers: TriggerDoc[] = [];
  for (const kind of options.sources) {
    if (kind === 'webhook') triggers.push(webhookTrigger(namespace, url));
    else if (kind === 'cron') triggers.push(cronTrigger(namespace, url));
    else {
      const make = {
        kafka: kafkaSource,
        jetstream: jetStreamSource,
        kinesis: kinesisSource,
        minio: minioSource,
        watch: watchSource,
      }[kind];
      const server = {
        kafka: instances.kafka,
        jetstream: instances.nats,
        kinesis: instances.kinesalite,
        minio: instances.minio,
        watch: instances['kube-apiserver'],
      }[kind];
      const fixture = await make(server.url, namespace, url);
      sources.push({ kind, fixture });
      triggers.push(fixture.trigger);
    }
  }
  for (const trigger of triggers) {
    const spec = trigger.spec as Record<string, unknown>;
    spec.delivery = { ...defaultDelivery, ...options.delivery };
  }
  const dir = writeTriggerDir(triggers);
  // MinIO's webhook target posts to a port fixed at its start: the hub listens there.
  const port = options.sources.includes('minio') ? instances.minio.ports[2]! : await freePort();
  const context = { ledger, namespace, loads: [] as Load[] } as unknown as ScenarioContext;
  context.hub = await spawnHub(dir, port, options.hubEnv);
  context.restartHub = async (signal = 'SIGKILL') => {
    context.hub.child.kill(signal);
    await context.hub.exited;
    context.hub = await spawnHub(dir, port, options.hubEnv);
    return context.hub;
  };
  try {
    if (options.sources.includes('webhook'))
      context.loads.push(
        webhookLoad(`${context.hub.url}/webhooks/${namespace}/webhook`, ledger.produced, options.rate),
      );
    for (const { fixture } of sources) context.loads.push(fixture.start(ledger.produced, options.rate));
    await sleep(options.warmupMs ?? 2000);
    await options.fault(context);
    const faultEnded = Date.now();
    // The backlog the fault left: the time to recover is until the last of these was delivered.
    if (options.sources.includes('cron'))
      for (const id of await queuedEventIds(`${namespace}/cron`)) ledger.produced.add(id);
    const backlog = [...ledger.produced];
    await sleep(options.cooldownMs ?? 2000);
    await Promise.all(context.loads.map((load) => load.stop()));
    // Cron ticks due while no hub ran are not fired late (by design); every tick a hub wrote must arrive.
    if (options.sources.includes('cron'))
      for (const id of await queuedEventIds(`${namespace}/cron`)) ledger.produced.add(id);
    await ledger.waitAllDelivered(options.drainTimeoutMs ?? 240_000, options.name);
    // A delivery whose completion the fault kept from Redis is seen by the sink but its job stays active until
    // its lock lapses and the stalled check delivers it again (a duplicate): let the queues settle first, so
    // the row counts that duplicate and the check below sees what is really left.
    const unfinished = new Map<string, Record<string, number>>();
    for (const kind of options.sources)
      unfinished.set(kind, await settledJobs(`${namespace}/${kind}`, kind === 'cron' ? 0 : 60_000));
    const row = ledger.row(options.name, ledger.clearedAfter(backlog, faultEnded));
    recordRow(row);
    const refused = context.loads
      .filter((load) => load.refused.size > 0)
      .map((l) => `${l.name}: ${JSON.stringify(Object.fromEntries(l.refused))}`);
    // A relist after a watch expired (410 Gone) delivers what it missed as synthetic events, with the ids the
    // watch events would have had: they count as those events' deliveries.
    const synthetic: Record<string, number> = {};
    for (const { headers } of ledger.sink.received) {
      const kind = headers['ce-k8ssynthetic'];
      if (typeof kind === 'string') synthetic[kind] = (synthetic[kind] ?? 0) + 1;
    }
    console.log(
      `${options.name}: ${JSON.stringify(row)}${Object.keys(synthetic).length ? `; synthetic watch deliveries ${JSON.stringify(synthetic)}` : ''}; last delivery per source (ms after the fault) ${JSON.stringify(ledger.settledAfter(faultEnded))}${refused.length ? `; producers retried ${refused.join(', ')}` : ''}`,
    );
    expect(row.lost).toBe(0);
    // A 4xx tells a webhook sender its event is refused for good: a real sender would have lost it.
    for (const load of context.loads)
      expect(
        [...load.refused.keys()].filter((reason) => /answered 4\d\d/.test(reason)),
        load.name,
      ).toEqual([]);
    // Nothing dead-lettered or left behind (a cron trigger keeps firing: only its dead letters count).
    for (const [kind, left] of unfinished) {
      if (kind === 'cron') expect(left.failed, kind).toBeUndefined();
      else expect(left, kind).toEqual({});
    }
    return row;
  } finally {
    await Promise.all(context.loads.map((load) => load.stop()));
    context.hub.child.kill('SIGKILL');
    await context.hub.exited;
    for (const { fixture } of sources) await fixture.close();
    await ledger.close();
  }
}
