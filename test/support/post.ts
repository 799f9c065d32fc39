import { Pool } from 'undici';

export interface PostResult {
  status: number;
  body: string;
}

/** POSTs `count` JSON events to `url` with bounded concurrency; `headersFor(i)` adds per-event headers. */
export async function postMany(
  url: string,
  count: number,
  options: {
    concurrency?: number;
    headersFor?: (i: number) => Record<string, string>;
    bodyFor?: (i: number) => unknown;
  } = {},
): Promise<PostResult[]> {
  const target = new URL(url);
  const pool = new Pool(target.origin, { connections: options.concurrency ?? 32 });
  const results: PostResult[] = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const response = await pool.request({
        method: 'POST',
        path: target.pathname,
        headers: { 'content-type': 'application/json', ...options.headersFor?.(i) },
        body: JSON.stringify(options.bodyFor ? options.bodyFor(i) : { seq: i }),
      });
      results[i] = { status: response.statusCode, body: await response.body.text() };
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 32 }, worker));
  await pool.close();
  return results;
}

export async function post(
  url: string,
  body: string | Buffer,
  headers: Record<string, string> = { 'content-type': 'application/json' },
): Promise<PostResult & { json: () => unknown }> {
  const response = await fetch(url, { method: 'POST', body, headers });
  const text = await response.text();
  return { status: response.status, body: text, json: () => JSON.parse(text) };
}

/**
 * POSTs JSON events to `url` at a steady `perSecond` (in 100 ms slices) until `stop()` says so; resolves with
 * the answers. Events are `{seq}`; a slice that falls behind is not made up, so the rate is a ceiling.
 */
export async function postAtRate(
  url: string,
  perSecond: number,
  stop: () => boolean,
  options: { concurrency?: number } = {},
): Promise<PostResult[]> {
  const target = new URL(url);
  const pool = new Pool(target.origin, { connections: options.concurrency ?? 16 });
  const results: PostResult[] = [];
  const perSlice = perSecond / 10;
  const started = Date.now();
  let sent = 0;
  const pending = new Set<Promise<void>>();
  while (!stop()) {
    const due = Math.floor(((Date.now() - started) / 1000) * perSecond) + perSlice;
    for (; sent < due; sent++) {
      const seq = sent;
      const request = pool
        .request({
          method: 'POST',
          path: target.pathname,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ seq }),
        })
        .then(async (response) => {
          results[seq] = { status: response.statusCode, body: await response.body.text() };
        })
        .catch((err: Error) => {
          results[seq] = { status: 0, body: err.message };
        })
        .finally(() => pending.delete(request));
      pending.add(request);
    }
    await new Promise((resolveTick) => setTimeout(resolveTick, 100));
  }
  await Promise.all(pending);
  await pool.close();
  return results;
}
