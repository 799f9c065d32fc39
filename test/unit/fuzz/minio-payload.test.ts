// Fuzz: MinIO notification bodies. Any body is either read into records or refused with a 400 and a
// reason; any record is either read (bucket, decoded key, a deterministic id) or unreadable with a reason
// (then dead-lettered, never dropped). Keys escaped the way MinIO escapes them (Go's url.QueryEscape)
// decode back to the object key, and a re-sent record keeps its id.

import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isUnreadable, parseNotification, readRecord } from '../../../sensors/minio/payload.ts';
import { HubError } from '../../../src/errors.ts';
import { fuzzTally, fuzzTimeout } from '../../support/fuzz.ts';

const tally = fuzzTally('MinIO notifications');

const fixture = JSON.parse(
  readFileSync(new URL('../../../sensors/minio/fixtures/put-xml.json', import.meta.url), 'utf8'),
) as { Records: Array<Record<string, unknown>> };
const realRecord = fixture.Records[0]!;

/** Go's url.QueryEscape: everything but A-Z a-z 0-9 - _ . ~ is %XX (UTF-8), and a space is `+`. */
function queryEscape(key: string): string {
  return encodeURIComponent(key)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replaceAll('%20', '+');
}

function withKey(record: Record<string, unknown>, bucket: string, rawKey: unknown, eventName: unknown) {
  const copy = structuredClone(record) as {
    eventName: unknown;
    s3: { bucket: { name: unknown }; object: { key: unknown } };
  };
  copy.eventName = eventName;
  copy.s3.bucket.name = bucket;
  copy.s3.object.key = rawKey;
  return copy;
}

describe('fuzz: MinIO notifications', { timeout: fuzzTimeout(120_000) }, () => {
  it('any body is read into records or refused with TH_ERR_BAD_REQUEST and a reason', async () => {
    const body = fc.oneof(
      fc.uint8Array({ maxLength: 100 }).map((bytes) => Buffer.from(bytes)),
      fc.jsonValue({ maxDepth: 3 }).map((json) => Buffer.from(JSON.stringify(json))),
      fc
        .record(
          {
            EventName: fc.jsonValue({ maxDepth: 0 }),
            Key: fc.string(),
            Records: fc.jsonValue({ maxDepth: 3 }),
          },
          { requiredKeys: [] },
        )
        .map((json) => Buffer.from(JSON.stringify(json))),
    );
    await tally.check(
      fc.property(body, (bytes) => {
        try {
          const records = parseNotification(bytes);
          expect(Array.isArray(records)).toBe(true);
        } catch (error) {
          expect(error).toBeInstanceOf(HubError);
          expect((error as HubError).code).toBe('TH_ERR_BAD_REQUEST');
          expect((error as HubError).message).not.toBe('');
        }
      }),
      { numRuns: 1500 },
    );
  });

  it('any record is read or unreadable with a reason; either way it has an id, and the same record the same id', async () => {
    const brokenRecord = fc.oneof(
      fc.jsonValue({ maxDepth: 4 }),
      // The real record with one part swapped for something else.
      fc
        .tuple(
          fc.constantFrom('eventName', 's3', 'eventTime', 'responseElements'),
          fc.jsonValue({ maxDepth: 2 }),
        )
        .map(([field, value]) => ({ ...structuredClone(realRecord), [field]: value })),
      fc
        .tuple(
          // Binary strings: JSON can carry lone surrogates ("\ud800"), which once made the id throw.
          fc.string({ unit: 'binary', maxLength: 10 }),
          fc.oneof(
            fc.string({ unit: 'binary', maxLength: 20 }),
            fc.constantFrom('a\ud800b', '\udfff'),
            fc.jsonValue({ maxDepth: 1 }),
          ),
          fc.jsonValue({ maxDepth: 0 }),
        )
        .map(([bucket, key, eventName]) => withKey(realRecord, bucket, key, eventName)),
    );
    await tally.check(
      fc.property(brokenRecord, (record) => {
        const read = readRecord(record);
        expect(typeof read.id).toBe('string');
        expect(read.id.startsWith('minio/')).toBe(true);
        if (isUnreadable(read)) {
          expect(read.reason).not.toBe('');
          expect(read.record).toBe(record);
        } else {
          expect(read.bucket).not.toBe('');
          expect(typeof read.key).toBe('string');
        }
        // A re-send (MinIO's queue_dir) is the same JSON again: the same id, so it is not enqueued twice.
        expect(readRecord(JSON.parse(JSON.stringify(record) ?? 'null')).id).toBe(read.id);
      }),
      { numRuns: 2000 },
    );
  });

  it('any object key, escaped as MinIO escapes it, decodes back to the key', async () => {
    await tally.check(
      fc.property(
        fc.string({ minLength: 1, maxLength: 12 }),
        fc.oneof(
          fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }),
          fc.constantFrom('a b+c%d.txt', '日本/📄.xml', '%', '+', ' '),
        ),
        fc.constantFrom(
          's3:ObjectCreated:Put',
          's3:ObjectRemoved:Delete',
          's3:ObjectCreated:CompleteMultipartUpload',
        ),
        (bucket, key, eventName) => {
          const read = readRecord(withKey(realRecord, bucket, queryEscape(key), eventName));
          expect(isUnreadable(read)).toBe(false);
          if (!isUnreadable(read)) {
            expect(read.key).toBe(key);
            expect(read.bucket).toBe(bucket);
            expect(read.eventName).toBe(eventName);
          }
        },
      ),
      { numRuns: 1500 },
    );
  });
});
