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
