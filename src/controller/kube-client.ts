// The hub's one way to talk to the Kubernetes API: @kubernetes/client-node's KubeConfig (kubeconfig, in-cluster
// service account, TLS, auth plugins) and its Watch for streams, plus a small JSON request helper for the few
// verbs the hub needs (list, get, create, merge-patch status). Shared by the kubernetes sensor and the controller.

import { type HttpMethod, KubeConfig, RequestContext, Watch } from '@kubernetes/client-node';
import { fetch } from 'undici';

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

export interface KubeList<T = KubeObject> {
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

/** A non-2xx answer of the API server, with its Status reason (NotFound, Conflict, Expired, Gone...). */
export class KubeApiError extends Error {
  readonly status: number;
  readonly reason: string | undefined;

  constructor(status: number, message: string, reason?: string) {
    super(message);
    this.name = 'KubeApiError';
    this.status = status;
    this.reason = reason;
  }
}

/** A resolved API resource: where to list and watch it. */
export interface ApiResource {
  group: string;
  version: string;
  /** `v1` or `apps/v1` */
  apiVersion: string;
  /** The plural resource name, e.g. `configmaps` */
  resource: string;
  kind: string;
  namespaced: boolean;
}

export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: KubeObject;
}

type Query = Record<string, string | number | boolean | undefined>;

/**
 * Loads the kubeconfig: TH_KUBECONFIG (the test stack's), else client-node's default order (KUBECONFIG,
 * ~/.kube/config, the in-cluster service account).
 */
export function loadKubeConfig(path = process.env.TH_KUBECONFIG): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}

export function apiBase(apiVersion: string): string {
  return apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
}

/** The collection path of a resource, in one namespace or across all of them. */
export function collectionPath(resource: ApiResource, namespace?: string): string {
  const base = apiBase(resource.apiVersion);
  return resource.namespaced && namespace
    ? `${base}/namespaces/${encodeURIComponent(namespace)}/${resource.resource}`
    : `${base}/${resource.resource}`;
}

export class KubeClient {
  readonly config: KubeConfig;
  private readonly discovery = new Map<string, Promise<Array<Record<string, unknown>>>>();

  constructor(config: KubeConfig = loadKubeConfig()) {
    this.config = config;
  }

  private url(path: string, query: Query = {}): string {
    const cluster = this.config.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    const url = new URL(cluster.server.replace(/\/$/, '') + path);
    for (const [key, value] of Object.entries(query))
      if (value !== undefined) url.searchParams.set(key, String(value));
    return url.toString();
  }

  async request<T>(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    path: string,
    options: { query?: Query; body?: unknown; contentType?: string; signal?: AbortSignal } = {},
  ): Promise<T> {
    const url = this.url(path, options.query);
    const context = new RequestContext(url, method as HttpMethod);
    await this.config.applySecurityAuthentication(context);
    const headers: Record<string, string> = { ...context.getHeaders(), accept: 'application/json' };
    if (options.body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
    const response = await fetch(url, {
      method,
      headers,
      dispatcher: context.getDispatcher(),
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const text = await response.text();
    if (!response.ok) {
      let message = text.slice(0, 500);
      let reason: string | undefined;
      try {
        const status = JSON.parse(text) as { message?: string; reason?: string };
        message = status.message ?? message;
        reason = status.reason;
      } catch {}
      throw new KubeApiError(response.status, `${method} ${path}: ${response.status} ${message}`, reason);
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }

  get<T = KubeObject>(path: string, query?: Query): Promise<T> {
    return this.request<T>('GET', path, query ? { query } : {});
  }

  /** Lists a whole collection page by page; the resourceVersion is the first page's (a consistent snapshot). */
  async listAll(path: string, query: Query = {}, pageSize = 500): Promise<KubeList> {
    const items: KubeObject[] = [];
    let resourceVersion: string | undefined;
    let token: string | undefined;
    do {
      const page = await this.get<KubeList>(path, { ...query, limit: pageSize, continue: token });
      items.push(...page.items);
      resourceVersion ??= page.metadata.resourceVersion;
      token = page.metadata.continue || undefined;
    } while (token);
    return { metadata: { ...(resourceVersion ? { resourceVersion } : {}) }, items };
  }

  /** Resolves apiVersion + kind (or a resource name) to the plural resource through API discovery. */
  async resolveResource(apiVersion: string, by: { kind?: string; resource?: string }): Promise<ApiResource> {
    let resources = this.discovery.get(apiVersion);
    if (!resources) {
      resources = this.get<{ resources: Array<Record<string, unknown>> }>(apiBase(apiVersion)).then(
        (list) => list.resources,
      );
      this.discovery.set(apiVersion, resources);
      resources.catch(() => this.discovery.delete(apiVersion));
    }
    const found = (await resources).find(
      (item) =>
        !String(item.name).includes('/') && (by.resource ? item.name === by.resource : item.kind === by.kind),
    );
    if (!found)
      throw new KubeApiError(
        404,
        `the API server serves no ${by.resource ? `resource "${by.resource}"` : `kind "${by.kind}"`} in ${apiVersion}`,
        'NotFound',
      );
    const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
    return {
      group: group!,
      version: version!,
      apiVersion,
      resource: String(found.name),
      kind: String(found.kind),
      namespaced: found.namespaced === true,
    };
  }

  /**
   * Opens one watch stream. Resolves when the stream ends (server timeout, connection closed, staleness:
   * no byte for `staleAfterMs`), rejects on an HTTP error or a network failure; events arrive through
   * `onEvent` in order. The caller restarts it (client-node's Watch never does).
   */
  watch(
    path: string,
    query: Query,
    onEvent: (event: WatchEvent) => void,
    options: { staleAfterMs: number; signal: AbortSignal; onConnected?: () => void },
  ): Promise<void> {
    const watch = new Watch(this.config);
    // client-node's inactivity timeout (default 30 s) doubles as our staleness timer: any byte (an event or a
    // bookmark) re-arms it; a stream that goes quiet without closing is aborted and reported as a timeout.
    (watch as unknown as { requestTimeoutMs: number }).requestTimeoutMs = options.staleAfterMs;
    return new Promise<void>((resolve, reject) => {
      let controller: AbortController | undefined;
      let finished = false;
      const onAbort = () => controller?.abort();
      const finish = (error: unknown) => {
        finished = true;
        options.signal.removeEventListener('abort', onAbort);
        if (error && !options.signal.aborted) reject(error);
        else resolve();
      };
      watch
        .watch(
          path,
          query,
          (type, object) => onEvent({ type: type as WatchEvent['type'], object: object as KubeObject }),
          finish,
        )
        .then((ctl) => {
          controller = ctl;
          if (!finished) options.onConnected?.();
          if (options.signal.aborted) ctl.abort();
          else options.signal.addEventListener('abort', onAbort, { once: true });
        }, finish);
    });
  }
}

export function isNotFound(error: unknown): boolean {
  return error instanceof KubeApiError && error.status === 404;
}

export function isConflict(error: unknown): boolean {
  return error instanceof KubeApiError && error.status === 409;
}

/** 410 Gone / Expired: the requested resourceVersion is older than the server keeps. */
export function isExpired(error: unknown): boolean {
  return (
    (error instanceof KubeApiError && (error.status === 410 || error.reason === 'Expired')) ||
    (typeof error === 'object' && error !== null && (error as { statusCode?: number }).statusCode === 410)
  );
}
