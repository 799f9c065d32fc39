// Kubernetes watch with no gaps. The position is the resourceVersion: after each batch of watch events is
// durable (emit resolved) the last one is checkpointed in Redis, together with what was seen per object
// (uid → resourceVersion, name). A restart resumes the watch from the checkpoint; a 410 Gone (the version was
// compacted away) relists and emits the difference against what was seen, as synthetic events, so a change
// the sensor could not watch is still reported. Watches that end, fail or go quiet are restarted with the
// hub's backoff: client-node's Watch opens one stream and never restarts it.
//
// Several replicas may run the same trigger (active-active): the ids are derived from uid, resourceVersion
// and type, so the same change read by two replicas is one job; checkpoints only move forward.

import { createHash } from 'node:crypto';
import {
  type ApiResource,
  collectionPath,
  isExpired,
  KubeApiError,
  KubeClient,
  type KubeObject,
  type WatchEvent,
} from '../../src/controller/kube-client.ts';
import type { EventInput } from '../../src/envelope/event.ts';
import { errorMessage } from '../../src/errors.ts';
import { backoffDelay, defaultBackoff, sleep } from '../../src/retry/backoff.ts';
import type { Sensor, SensorContext, SensorHealth } from '../../src/sensor/sensor.ts';
import {
  classifyWatchError,
  diffAgainstSeen,
  type ObjectChange,
  type SeenObject,
  seenOf,
  toEventInput,
} from './events.ts';
import type { KubernetesSpec, WatchEventType } from './spec.ts';

const maxBatch = 500;

/** SET the checkpoint only if it moves forward (a lagging replica must not move it back). */
const advanceScript = `
local current = redis.call('GET', KEYS[1])
if current and tonumber(current) and tonumber(ARGV[1]) and tonumber(ARGV[1]) <= tonumber(current) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1])
return 1`;

class WatchExpired extends Error {}

/** The watch's identity: a changed resource, namespace or selector starts from a clean slate. */
export function watchIdentity(spec: KubernetesSpec): string {
  const identity = [
    spec.apiVersion,
    spec.kind ?? '',
    spec.resource ?? '',
    spec.namespace ?? '',
    spec.labelSelector ?? '',
    spec.fieldSelector ?? '',
  ].join('\n');
  return createHash('sha256').update(identity).digest('hex').slice(0, 16);
}

export interface KubernetesSensorOptions {
  client?: KubeClient;
}

export function createKubernetesSensor(
  spec: KubernetesSpec,
  context: SensorContext,
  options: KubernetesSensorOptions = {},
): Sensor {
  const { emit, log, state, signal } = context;
  const identity = watchIdentity(spec);
  const rvKey = state.key('k8s', identity, 'rv');
  const seenKey = state.key('k8s', identity, 'seen');
  const wanted = new Set<WatchEventType>(spec.eventTypes);
  const selectors = {
    labelSelector: spec.labelSelector,
    fieldSelector: spec.fieldSelector,
  };
  let client: KubeClient | undefined = options.client;
  let resource: ApiResource | undefined;
  let health: SensorHealth = { connected: false, message: 'starting' };
  let running: Promise<void> | undefined;

  function setHealth(next: Partial<SensorHealth>): void {
    const merged: SensorHealth = { ...health, ...next };
    if (next.connected) delete merged.message;
    health = merged;
  }

  async function emitChanges(changes: ObjectChange[]): Promise<void> {
    const events: EventInput[] = [];
    for (const change of changes)
      if (wanted.has(change.type)) events.push(toEventInput(change, resource!, spec));
    if (events.length === 0) return;
    await emit(events);
    setHealth({ lastEventAt: new Date().toISOString() });
  }

  /** After the batch is durable: record what was seen and move the checkpoint. */
  async function commit(changes: ObjectChange[], resourceVersion: string | undefined): Promise<void> {
    const multi = state.redis.multi();
    for (const { type, object } of changes) {
      const uid = object.metadata?.uid;
      if (!uid) continue;
      if (type === 'DELETED') multi.hdel(seenKey, uid);
      else multi.hset(seenKey, uid, JSON.stringify(seenOf(object)));
    }
    if (resourceVersion) multi.eval(advanceScript, 1, rvKey, resourceVersion);
    const results = await multi.exec();
    const failed = results?.find(([error]) => error);
    if (!results || failed) throw failed?.[0] ?? new Error('the checkpoint transaction was aborted');
  }

  async function loadSeen(): Promise<Map<string, SeenObject>> {
    const raw = await state.redis.hgetall(seenKey);
    const seen = new Map<string, SeenObject>();
    for (const [uid, value] of Object.entries(raw)) {
      try {
        seen.set(uid, JSON.parse(value) as SeenObject);
      } catch {
        // An unreadable entry: treat the object as unseen (the relist then reports it as ADDED).
      }
    }
    return seen;
  }

  /**
   * Lists the collection and emits what changed since `seen` (all of it as ADDED for a new trigger that asks
   * for initial objects); then replaces the seen set and checkpoints the list's resourceVersion.
   */
  async function relist(reason: 'initial' | 'relist'): Promise<string> {
    const list = await client!.listAll(collectionPath(resource!, spec.namespace), selectors);
    const resourceVersion = list.metadata.resourceVersion;
    if (!resourceVersion) throw new Error('the list answer carries no resourceVersion');
    let changes: ObjectChange[] = [];
    if (reason === 'relist') {
      changes = diffAgainstSeen(await loadSeen(), list.items, resource!);
      log.warn(
        { resourceVersion, objects: list.items.length, differences: changes.length },
        'watch expired (410 Gone): relisted; emitting the differences',
      );
    } else if (spec.initialObjects === 'emit') {
      changes = list.items.map((object) => ({
        type: 'ADDED' as const,
        object,
        synthetic: 'initial' as const,
      }));
    }
    for (let start = 0; start < changes.length; start += maxBatch)
      await emitChanges(changes.slice(start, start + maxBatch));
    const multi = state.redis.multi().del(seenKey);
    const entries = list.items
      .filter((object) => object.metadata?.uid)
      .flatMap((object) => [object.metadata!.uid!, JSON.stringify(seenOf(object))]);
    for (let start = 0; start < entries.length; start += 1000)
      multi.hset(seenKey, ...entries.slice(start, start + 1000));
    // After a relist the list's version is the position, even if a lagging replica wrote a larger one.
    multi.set(rvKey, resourceVersion);
    const results = await multi.exec();
    const failed = results?.find(([error]) => error);
    if (!results || failed) throw failed?.[0] ?? new Error('the relist transaction was aborted');
    return resourceVersion;
  }

  /** One watch request from `resourceVersion`; resolves when the server ends it, throws on anything else. */
  async function watchFrom(resourceVersion: string): Promise<void> {
    const stream = new AbortController();
    const stop = () => stream.abort();
    signal.addEventListener('abort', stop, { once: true });
    const buffer: WatchEvent[] = [];
    let pumping: Promise<void> | undefined;
    let failure: unknown;

    async function processBatch(batch: WatchEvent[]): Promise<void> {
      const changes: ObjectChange[] = [];
      let position: string | undefined;
      for (const event of batch) {
        if (event.type === 'ERROR') {
          const status = event.object as { code?: number; reason?: string; message?: string };
          const { expired, message } = classifyWatchError(status);
          if (expired) throw new WatchExpired(message);
          throw new KubeApiError(status.code ?? 500, `watch error: ${message}`, status.reason);
        }
        position = event.object.metadata?.resourceVersion ?? position;
        if (event.type === 'BOOKMARK') continue;
        changes.push({ type: event.type, object: event.object });
      }
      await emitChanges(changes);
      await commit(changes, position);
    }

    async function pump(): Promise<void> {
      while (buffer.length > 0 && failure === undefined && !signal.aborted) {
        try {
          await processBatch(buffer.splice(0, maxBatch));
        } catch (error) {
          failure = error;
          stream.abort();
        }
      }
    }

    try {
      await client!.watch(
        collectionPath(resource!, spec.namespace),
        {
          ...selectors,
          resourceVersion,
          allowWatchBookmarks: true,
          // Spread the reconnects of many triggers (client-go does the same with its 5–10 min range).
          timeoutSeconds: Math.round(spec.watchTimeoutSeconds * (0.75 + Math.random() * 0.5)),
        },
        (event) => {
          if (failure !== undefined) return;
          buffer.push(event);
          pumping ??= pump().finally(() => {
            pumping = undefined;
          });
        },
        {
          staleAfterMs: spec.staleAfterSeconds * 1000,
          signal: stream.signal,
          onConnected: () => setHealth({ connected: true }),
        },
      );
    } catch (error) {
      if (failure === undefined) failure = error;
    } finally {
      signal.removeEventListener('abort', stop);
    }
    // Let every event the stream delivered be processed before the next watch starts from the checkpoint.
    while (pumping) await pumping;
    if (buffer.length > 0 && failure === undefined && !signal.aborted) await pump();
    if (failure !== undefined && !signal.aborted) throw failure;
  }

  async function run(): Promise<void> {
    let attempt = 0;
    while (!signal.aborted) {
      try {
        client ??= new KubeClient();
        resource ??= await client.resolveResource(
          spec.apiVersion,
          spec.kind ? { kind: spec.kind } : { resource: spec.resource! },
        );
        let resourceVersion = await state.redis.get(rvKey);
        if (!resourceVersion) {
          resourceVersion = await relist('initial');
          log.info({ resourceVersion }, 'no checkpoint: watching from the current list');
        }
        await watchFrom(resourceVersion);
        attempt = 0;
      } catch (caught) {
        if (signal.aborted) break;
        let error = caught;
        if (error instanceof WatchExpired || isExpired(error)) {
          try {
            await relist('relist');
            attempt = 0;
            continue;
          } catch (relistError) {
            error = relistError;
          }
        }
        attempt++;
        const delay = backoffDelay(defaultBackoff, attempt);
        setHealth({ connected: false, message: `watch failed: ${errorMessage(error)}` });
        log.warn({ err: errorMessage(error), attempt, delayMs: delay }, 'watch failed; restarting');
        await sleep(delay, signal);
      }
    }
  }

  return {
    async start() {
      running = run();
    },
    async stop() {
      await running;
    },
    health: () => health,
  };
}

export type { KubeObject };
