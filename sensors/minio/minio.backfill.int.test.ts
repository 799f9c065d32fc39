// The MinIO list-mode backfill reader against the stack's MinIO: 54 objects in three rounds (a second
// apart), keys with spaces, `+`, unicode and number-like names; a time window, the prefix+suffix, key
// positions and a resumed read give exactly the expected keys, with the same ids on every read.

import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HubError } from '../../src/errors.ts';
import type { BackfillBatch, BackfillReaderOptions } from '../../src/sensor/backfill-reader.ts';
import type { TriggerRef } from '../../src/sensor/sensor.ts';
import { readAll } from '../../test/support/backfill.ts';
import { createMinioBackfillReader } from './backfill.ts';
import { decodeQueryComponent } from './payload.ts';
import { minioSpec } from './spec.ts';
import { minioClient, pool, setting } from './test-support.ts';

const log = pino({ level: 'silent' });
const trigger: TriggerRef = { namespace: 'backfill', name: 'objects', key: 'backfill/objects' };
const client = minioClient();
const bucket = `th-bf-${randomBytes(4).toString('hex')}`;
const rounds = [
  [
    ...Array.from({ length: 10 }, (_, i) => `in/a-${i}.csv`),
    ...Array.from({ length: 5 }, (_, i) => `in/a-${i}.json`),
    ...Array.from({ length: 5 }, (_, i) => `out/a-${i}.csv`),
    '007',
    '1.50',
  ],
  [
    ...Array.from({ length: 5 }, (_, i) => `in/b ${i}.csv`),
    ...Array.from({ length: 5 }, (_, i) => `in/b+${i}.csv`),
    ...Array.from({ length: 5 }, (_, i) => `in/été ${i}.csv`),
    ...Array.from({ length: 5 }, (_, i) => `in/b-${i}.txt`),
    'in/b 100%.csv',
    "in/b punct ?&=#~'!$(),;@[]{}^.csv",
  ],
  [
    ...Array.from({ length: 5 }, (_, i) => `in/c-${i}.csv`),
    ...Array.from({ length: 5 }, (_, i) => `in/c-${i}.txt`),
  ],
];
const allKeys = rounds.flat();
/** When each round started, to the second (a stat's Last-Modified header has whole seconds). */
const roundStart: number[] = [];
const everything = { time: new Date(0) };
const farFuture = { time: new Date('2100-01-01T00:00:00Z') };

function spec(overrides: Record<string, unknown> = {}) {
  return minioSpec.parse({
    authToken: { env: 'TH_MINIO_WEBHOOK_TOKEN' },
    bucket,
    prefix: 'in/',
    suffix: '.csv',
    backfill: {
      endpoint: setting('TH_MINIO_ENDPOINT'),
      accessKey: { env: 'TH_MINIO_ACCESS_KEY' },
      secretKey: { env: 'TH_MINIO_SECRET_KEY' },
    },
    ...overrides,
  });
}

function options(
  from: BackfillReaderOptions['from'],
  to: BackfillReaderOptions['to'],
  cursor?: BackfillReaderOptions['cursor'],
): BackfillReaderOptions {
  return { from, to, ...(cursor ? { cursor } : {}), signal: new AbortController().signal, log, trigger };
}

const subjects = (batches: BackfillBatch[]) =>
  batches.flatMap((batch) => batch.events.map((event) => (event.subject as string).slice(bucket.length + 1)));
const sorted = (keys: string[]) => [...keys].sort();
const csvUnderIn = (key: string) => key.startsWith('in/') && key.endsWith('.csv');

function refusal(overrides: Record<string, unknown>): HubError {
  try {
    createMinioBackfillReader(spec(overrides), options(everything, farFuture));
  } catch (error) {
    return error as HubError;
  }
  throw new Error('no refusal');
}

beforeAll(async () => {
  await client.makeBucket(bucket);
  for (const [index, keys] of rounds.entries()) {
    // LastModified has millisecond precision: a pause between rounds keeps them apart in time.
    if (index > 0) await new Promise((resolve) => setTimeout(resolve, 1200));
    await pool(keys, 4, async (key) => {
      await client.putObject(bucket, key, Buffer.from(`body of ${key}`));
    });
  }
  for (const keys of rounds) {
    const times = await Promise.all(
      keys.map(async (key) => (await client.statObject(bucket, key)).lastModified.getTime()),
    );
    roundStart.push(Math.min(...times));
  }
}, 120_000);

afterAll(async () => {
  await pool(allKeys, 4, (key) => client.removeObject(bucket, key));
  await client.removeBucket(bucket);
});

describe('MinIO list-mode backfill reader', () => {
  it('lists the prefix and suffix: exactly those keys, as the live Put event, same ids on a second read', async () => {
    const first = await readAll(createMinioBackfillReader(spec(), options(everything, farFuture)));
    const expected = allKeys.filter(csvUnderIn);
    expect(sorted(subjects(first))).toEqual(sorted(expected));
    const second = await readAll(createMinioBackfillReader(spec(), options(everything, farFuture)));
    const ids = (batches: BackfillBatch[]) =>
      batches.flatMap((batch) => batch.events.map((event) => event.id));
    expect(ids(second)).toEqual(ids(first));
    expect(new Set(ids(first)).size).toBe(expected.length);

    const event = first.flatMap((batch) => batch.events).find((e) => e.subject === `${bucket}/in/b+1.csv`)!;
    const stat = await client.statObject(bucket, 'in/b+1.csv');
    expect(event).toMatchObject({
      source: '/triggerhub/minio/backfill/objects',
      type: 'io.triggerhub.minio.ObjectCreated.Put',
      bucket,
      data: {
        eventName: 's3:ObjectCreated:Put',
        s3: { bucket: { name: bucket }, object: { size: stat.size, eTag: stat.etag } },
      },
    });
    expect(event.id).toContain(encodeURIComponent('in/b+1.csv'));
    // The record's key is query-escaped as MinIO sends it: `+` as %2B, a space as `+`.
    const data = event.data as { s3: { object: { key: string } }; eventTime: string };
    expect(data.s3.object.key).toBe('in%2Fb%2B1.csv');
    expect(decodeQueryComponent(data.s3.object.key)).toBe('in/b+1.csv');
    // LastModified (ms) is the event time; the stat's Last-Modified header has whole seconds.
    expect(Math.floor(Date.parse(event.time as string) / 1000)).toBe(stat.lastModified.getTime() / 1000);
    expect(data.eventTime).toBe(event.time);
  });

  it('a time window [from, to) gives the objects last modified in it', async () => {
    // roundStart[1] is round two's first time rounded down; round one ended over a second before it.
    const from = { time: new Date(roundStart[1]!) };
    const to = { time: new Date(roundStart[2]!) };
    const batches = await readAll(createMinioBackfillReader(spec(), options(from, to)));
    expect(sorted(subjects(batches))).toEqual(sorted(rounds[1]!.filter(csvUnderIn)));
  });

  it('key positions: after `from`, before `to`, in S3 (UTF-8 byte) order', async () => {
    const batches = await readAll(
      createMinioBackfillReader(spec(), options({ position: 'key:in/a-9.csv' }, { position: 'in/c-3.csv' })),
    );
    const expected = allKeys.filter(
      (key) =>
        csvUnderIn(key) &&
        Buffer.compare(Buffer.from(key), Buffer.from('in/a-9.csv')) > 0 &&
        Buffer.compare(Buffer.from(key), Buffer.from('in/c-3.csv')) < 0,
    );
    expect(expected).toContain('in/b 0.csv');
    expect(expected).not.toContain('in/été 0.csv');
    expect(subjects(batches)).toEqual(
      expected.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))),
    );
  });

  it('resumes from a cursor with the rest, nothing twice', async () => {
    const expected = allKeys.filter(csvUnderIn);
    const head = await readAll(createMinioBackfillReader(spec(), options(everything, farFuture), 7), 2);
    expect(head).toHaveLength(2);
    const cursor = head.at(-1)!.cursor;
    expect(cursor.after).toBeTypeOf('string');
    const rest = await readAll(createMinioBackfillReader(spec(), options(everything, farFuture, cursor), 7));
    expect(rest.length).toBeGreaterThan(1);
    const keys = [...subjects(head), ...subjects(rest)];
    expect(keys).toHaveLength(expected.length);
    expect(sorted(keys)).toEqual(sorted(expected));
  });

  it('keys that look like numbers come back as they are', async () => {
    const batches = await readAll(
      createMinioBackfillReader(
        spec({ prefix: undefined, suffix: undefined }),
        options(everything, farFuture),
      ),
    );
    expect(subjects(batches)).toEqual(expect.arrayContaining(['007', '1.50']));
  });

  it('presign: each event carries a GET URL of its object', async () => {
    const presign = {
      endpoint: setting('TH_MINIO_ENDPOINT'),
      accessKey: { env: 'TH_MINIO_ACCESS_KEY' },
      secretKey: { env: 'TH_MINIO_SECRET_KEY' },
    };
    const batches = await readAll(
      createMinioBackfillReader(spec({ presign, prefix: 'in/été 1' }), options(everything, farFuture)),
    );
    const events = batches.flatMap((batch) => batch.events);
    expect(events).toHaveLength(1);
    const response = await fetch(events[0]!.presignedurl as string);
    expect(await response.text()).toBe('body of in/été 1.csv');
  });

  it('refuses, naming the field, without listing credentials, a bucket, or created events to keep', () => {
    for (const [overrides, field] of [
      [{ backfill: undefined }, 'spec.source.minio.backfill:'],
      [{ bucket: undefined }, 'spec.source.minio.bucket:'],
      [{ events: ['delete', 's3:ObjectCreated:Copy'] }, 'spec.source.minio.events:'],
    ] as const) {
      const error = refusal(overrides);
      expect(error).toBeInstanceOf(HubError);
      expect(error.code).toBe('TH_ERR_BACKFILL_UNSUPPORTED');
      expect(error.message).toContain(field);
    }
    const missingSecret = refusal({
      backfill: {
        endpoint: setting('TH_MINIO_ENDPOINT'),
        accessKey: { env: 'TH_MINIO_ACCESS_KEY' },
        secretKey: { env: 'TH_TEST_NO_SUCH_SECRET' },
      },
    });
    expect(missingSecret.message).toContain('spec.source.minio.backfill:');
    expect(missingSecret.message).toContain('TH_TEST_NO_SUCH_SECRET');
    // `put` keeps created events: no refusal.
    expect(() =>
      createMinioBackfillReader(spec({ events: ['put'] }), options(everything, farFuture)),
    ).not.toThrow();
  });

  it('wrong credentials fail when the range is opened (estimate), not later', async () => {
    process.env.TH_TEST_WRONG_MINIO_SECRET = 'not-the-secret';
    try {
      const reader = createMinioBackfillReader(
        spec({
          backfill: {
            endpoint: setting('TH_MINIO_ENDPOINT'),
            accessKey: { env: 'TH_MINIO_ACCESS_KEY' },
            secretKey: { env: 'TH_TEST_WRONG_MINIO_SECRET' },
          },
        }),
        options(everything, farFuture),
      );
      await expect(reader.estimate()).rejects.toThrow(/signature/i);
    } finally {
      delete process.env.TH_TEST_WRONG_MINIO_SECRET;
    }
  });
});
