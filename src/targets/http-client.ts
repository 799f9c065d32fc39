// The one HTTP sending path of every target: a pooled keep-alive undici Agent, per-attempt timeouts, and
// the classification of an answer into delivered / retry / dead-letter (docs/design.md "Event envelope and
// ids": retry on network errors, timeouts, 408, 429 and 5xx, honouring Retry-After; other 4xx go to the
// dead-letter queue).

import { Agent, request } from 'undici';
import type { DeliveryOutcome } from './target.ts';

const excerptBytes = 1024;
const responseBytes = 1024 * 1024;

export const sharedAgent = new Agent({
  connections: 256,
  keepAliveTimeout: 30_000,
  keepAliveMaxTimeout: 120_000,
});

export function isRetriableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** Retry-After as delay-seconds or an HTTP date. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (!text) return undefined;
  if (/^\d+$/.test(text.trim())) return Number(text.trim()) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

export interface SendOptions {
  method?: 'POST' | 'PUT';
  headers: Record<string, string>;
  body: string | Buffer | undefined;
  timeoutMs: number;
}

/** The URL's origin only: paths (Slack webhooks) and queries may carry tokens, and errors reach logs. */
export function safeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}`;
  } catch {
    return '(invalid URL)';
  }
}

export async function send(url: string, options: SendOptions): Promise<DeliveryOutcome> {
  const started = performance.now();
  try {
    const response = await request(url, {
      method: options.method ?? 'POST',
      headers: options.headers,
      body: options.body,
      dispatcher: sharedAgent,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
    const status = response.statusCode;
    const ok = status >= 200 && status < 300;
    const body = await readBounded(response.body, ok ? responseBytes : excerptBytes);
    const durationMs = performance.now() - started;
    if (ok) {
      const contentType = response.headers['content-type'];
      return {
        ok: true,
        retriable: false,
        status,
        durationMs,
        body,
        ...(typeof contentType === 'string' ? { contentType } : {}),
      };
    }
    const excerpt = body.subarray(0, excerptBytes).toString('utf8');
    const retryAfterMs = parseRetryAfter(response.headers['retry-after']);
    return {
      ok: false,
      retriable: isRetriableStatus(status),
      status,
      excerpt,
      error: `HTTP ${status}`,
      durationMs,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    };
  } catch (error) {
    const code = (error as { code?: string }).code;
    const message = error instanceof Error ? error.message : String(error);
    return {
      ok: false,
      retriable: true,
      error: `${code ? `${code}: ` : ''}${message} (${safeUrl(url)})`,
      durationMs: performance.now() - started,
    };
  }
}

/** Keeps at most `limit` bytes and drains the rest, so the connection goes back to the pool. */
async function readBounded(body: AsyncIterable<Buffer>, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    if (size < limit) {
      chunks.push(chunk);
      size += chunk.length;
    }
  }
  return chunks.length === 1 && size <= limit ? chunks[0]! : Buffer.concat(chunks).subarray(0, limit);
}
