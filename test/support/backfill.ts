// Shared by the backfill tests: the hub's backfill API, and a reader read to its end (closed afterwards, as
// the runner does).

import type { BackfillBatch, BackfillReader } from '../../src/sensor/backfill-reader.ts';

/** One call of the hub's HTTP API; the JSON answer typed as the caller expects it. */
export async function api<T>(
  url: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const response = await fetch(new URL(path, url), {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as T };
}

/** Every batch of `reader` (or the first `limitBatches`), then closes it. */
export async function readAll(reader: BackfillReader, limitBatches = Infinity): Promise<BackfillBatch[]> {
  const batches: BackfillBatch[] = [];
  try {
    for await (const batch of reader.read()) {
      batches.push(batch);
      if (batches.length >= limitBatches) break;
    }
  } finally {
    await reader.close();
  }
  return batches;
}
