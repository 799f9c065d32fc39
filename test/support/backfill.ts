// Shared by the backfill tests: the hub's backfill API, a time window backfilled through it, and a reader read
// to its end (closed afterwards, as the runner does).

import { expect } from 'vitest';
import type { Hub } from '../../src/hub.ts';
import type { BackfillBatch, BackfillReader } from '../../src/sensor/backfill-reader.ts';
import type { Sink } from './sink.ts';
import { waitFor } from './wait.ts';

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

interface BackfillView {
  id: string;
  status: string;
  estimate?: number;
}

/** The ids the sink received from backfill `id`. */
export const backfilled = (sink: Sink, id: string) =>
  sink.received.filter((entry) => entry.headers['ce-backfill'] === id).map((entry) => entry.id!);

/** Backfills [from, to) of `namespace/etl` through the API; checks it completes and delivers exactly `expected`. */
export async function backfillWindow(
  hub: Hub,
  sink: Sink,
  namespace: string,
  from: number,
  to: number,
  expected: string[],
): Promise<void> {
  const path = `/api/triggers/${namespace}/etl/backfills`;
  const started = await api<{ backfill: BackfillView }>(hub.url, 'POST', path, {
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
  });
  expect(started.status, JSON.stringify(started.body)).toBe(201);
  const id = started.body.backfill.id;
  await waitFor(
    async () =>
      (await api<{ backfill: BackfillView }>(hub.url, 'GET', `${path}/${id}`)).body.backfill.status !==
      'running',
    120_000,
    'backfill',
  );
  expect((await api<{ backfill: BackfillView }>(hub.url, 'GET', `${path}/${id}`)).body.backfill.status).toBe(
    'completed',
  );
  await waitFor(() => backfilled(sink, id).length >= expected.length, 60_000, 'backfill deliveries');
  expect(new Set(backfilled(sink, id))).toEqual(new Set(expected));
}
