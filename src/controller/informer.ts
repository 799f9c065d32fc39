// A list+watch cache of one collection (the Trigger resources of a namespace or of the cluster). Unlike
// client-node's informer it never stops for good: a watch that ends is resumed from the last resourceVersion,
// a 410 or any error relists (replacing the cache, so deletions missed meanwhile are noticed) after backoff.

import type { Logger } from 'pino';
import { errorMessage } from '../errors.ts';
import { backoffDelay, defaultBackoff, sleep } from '../retry/backoff.ts';
import { isExpired, type KubeClient, type KubeObject } from './kube-client.ts';

export function objectKey(object: KubeObject): string {
  return `${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;
}

export interface InformerOptions {
  client: KubeClient;
  path: string;
  log: Logger;
  /** Called after the cache changed; `synced` is false until the first list has been loaded. */
  onChange: (change: { type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'RELISTED'; object?: KubeObject }) => void;
  staleAfterMs?: number;
}

export class Informer {
  readonly cache = new Map<string, KubeObject>();
  private readonly options: InformerOptions;
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  private resolveSynced!: () => void;
  /** Resolves once the first list is in the cache. */
  readonly synced = new Promise<void>((resolve) => {
    this.resolveSynced = resolve;
  });

  constructor(options: InformerOptions) {
    this.options = options;
  }

  start(): void {
    this.running ??= this.loop();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }

  private async relist(): Promise<string> {
    const list = await this.options.client.listAll(this.options.path);
    this.cache.clear();
    for (const item of list.items) this.cache.set(objectKey(item), item);
    this.resolveSynced();
    this.options.onChange({ type: 'RELISTED' });
    return list.metadata.resourceVersion ?? '';
  }

  private async loop(): Promise<void> {
    const { signal } = this.abort;
    let resourceVersion: string | undefined;
    let attempt = 0;
    while (!signal.aborted) {
      try {
        resourceVersion ??= await this.relist();
        let expired = false;
        await this.options.client.watch(
          this.options.path,
          {
            resourceVersion,
            allowWatchBookmarks: true,
            timeoutSeconds: 240 + Math.round(Math.random() * 120),
          },
          (event) => {
            if (event.type === 'ERROR') {
              expired = true;
              return;
            }
            resourceVersion = event.object.metadata?.resourceVersion ?? resourceVersion;
            if (event.type === 'BOOKMARK') return;
            const key = objectKey(event.object);
            if (event.type === 'DELETED') this.cache.delete(key);
            else this.cache.set(key, event.object);
            this.options.onChange({ type: event.type, object: event.object });
          },
          { staleAfterMs: this.options.staleAfterMs ?? 90_000, signal },
        );
        if (expired) resourceVersion = undefined;
        attempt = 0;
      } catch (error) {
        if (signal.aborted) break;
        resourceVersion = undefined;
        if (isExpired(error)) continue;
        attempt++;
        const delay = backoffDelay(defaultBackoff, attempt);
        this.options.log.warn(
          { path: this.options.path, err: errorMessage(error), delayMs: delay },
          'watch failed; relisting',
        );
        await sleep(delay, signal);
      }
    }
  }
}
