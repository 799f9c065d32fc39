// Backfill of a MinIO trigger through the hub's API, in list mode: the objects under the trigger's prefix and
// suffix are delivered to the function as created-object events, marked as backfill, and the record
// completes. No notification is involved (the bucket has none). A MinIO trigger without listing settings is
// refused at request time, naming the missing field.

import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';

import type { Hub } from '../../src/hub.ts';
import { api } from '../../test/support/backfill.ts';
import { startTestHub, triggerDoc, uniqueNamespace } from '../../test/support/hub.ts';
import { type Sink, startSink } from '../../test/support/sink.ts';
import { waitFor } from '../../test/support/wait.ts';
import { minioEventId } from './payload.ts';
import { minioClient, pool, setting } from './test-support.ts';

interface BackfillView {
  id: string;
  status: string;
  read: number;
  enqueued: number;
  delivered: number;
}

const client = minioClient();
const bucket = `th-bfe-${randomBytes(4).toString('hex')}`;
const keys = [
  ...Array.from({ length: 10 }, (_, i) => `in/x ${i}.csv`),
  ...Array.from({ length: 10 }, (_, i) => `in/x+${i}.csv`),
  ...Array.from({ length: 5 }, (_, i) => `in/x-${i}.txt`),
  ...Array.from({ length: 5 }, (_, i) => `other/${i}.csv`),
];

describe('MinIO backfill (list mode) end to end', () => {
  let hub: Hub | undefined;
  let sink: Sink | undefined;
  afterAll(async () => {
    await hub?.close();
    await sink?.close();
    await pool(keys, 4, (key) => client.removeObject(bucket, key)).catch(() => {});
    await client.removeBucket(bucket).catch(() => {});
  });

  it('delivers the listed objects, marked, and completes; a trigger without listing settings is refused', async () => {
    await client.makeBucket(bucket);
    await pool(keys, 4, async (key) => {
      await client.putObject(bucket, key, Buffer.from(key));
    });
    const wanted = keys.filter((key) => key.startsWith('in/') && key.endsWith('.csv'));
    const expected = await Promise.all(
      wanted.map(async (key) =>
        minioEventId(bucket, key, `listed.${(await client.statObject(bucket, key)).etag}`),
      ),
    );

    const namespace = uniqueNamespace('mbf');
    const source = { authToken: { env: 'TH_MINIO_WEBHOOK_TOKEN' }, bucket, prefix: 'in/', suffix: '.csv' };
    sink = await startSink();
    hub = await startTestHub([
      triggerDoc(namespace, 'objects', {
        source: {
          minio: {
            ...source,
            backfill: {
              endpoint: setting('TH_MINIO_ENDPOINT'),
              accessKey: { env: 'TH_MINIO_ACCESS_KEY' },
              secretKey: { env: 'TH_MINIO_SECRET_KEY' },
            },
          },
        },
        target: { http: { url: sink.url } },
      }),
      triggerDoc(namespace, 'unlisted', { source: { minio: source }, target: { http: { url: sink.url } } }),
    ]);

    const refused = await api<{ code: string; message: string }>(
      hub.url,
      'POST',
      `/api/triggers/${namespace}/unlisted/backfills`,
      { from: '2000-01-01T00:00:00Z' },
    );
    expect(refused.status).toBe(422);
    expect(refused.body.code).toBe('TH_ERR_BACKFILL_UNSUPPORTED');
    expect(refused.body.message).toContain('spec.source.minio.backfill');

    const path = `/api/triggers/${namespace}/objects/backfills`;
    const started = await api<{ backfill: BackfillView }>(hub.url, 'POST', path, {
      from: '2000-01-01T00:00:00Z',
    });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    const id = started.body.backfill.id;
    await waitFor(
      async () =>
        (await api<{ backfill: BackfillView }>(hub!.url, 'GET', `${path}/${id}`)).body.backfill.status !==
        'running',
      120_000,
      'the backfill to end',
    );
    const record = (await api<{ backfill: BackfillView }>(hub.url, 'GET', `${path}/${id}`)).body.backfill;
    expect(record).toMatchObject({ status: 'completed', enqueued: wanted.length, delivered: wanted.length });

    const marked = sink.received.filter((entry) => entry.headers['ce-backfill'] === id);
    // Binary mode percent-encodes ce-* header values (CloudEvents HTTP binding): the ids carry `%`.
    const header = (value: unknown) => decodeURIComponent(String(value));
    expect(new Set(marked.map((entry) => header(entry.id)))).toEqual(new Set(expected));
    for (const entry of marked) {
      expect(entry.headers['ce-type']).toBe('io.triggerhub.minio.ObjectCreated.Put');
      expect(wanted.map((key) => `${bucket}/${key}`)).toContain(header(entry.headers['ce-subject']));
    }
    // Nothing but the backfill reached the function: the bucket sends no notifications.
    expect(sink.received).toHaveLength(marked.length);
  }, 180_000);
});
