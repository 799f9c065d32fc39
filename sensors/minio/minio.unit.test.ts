import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fromJobId, toJobId } from '../../src/envelope/ids.ts';
import { HubError } from '../../src/errors.ts';
import { eventNameMatcher, recordMatcher } from './match.ts';
import {
  decodeQueryComponent,
  isUnreadable,
  type MinioRecord,
  parseNotification,
  readRecord,
} from './payload.ts';
import { eventTypeOf } from './sensor.ts';
import { minioSpec } from './spec.ts';

/** The shape MinIO's webhook target posts (internal/event: event.Log with one event.Event). */
function record(
  overrides: {
    eventName?: string;
    bucket?: string;
    key?: string;
    sequencer?: string;
    requestId?: string;
  } = {},
) {
  return {
    eventVersion: '2.0',
    eventSource: 'minio:s3',
    awsRegion: '',
    eventTime: '2026-11-23T17:10:00.123Z',
    eventName: overrides.eventName ?? 's3:ObjectCreated:Put',
    userIdentity: { principalId: 'triggerhub' },
    requestParameters: { principalId: 'triggerhub', region: '', sourceIPAddress: '127.0.0.1' },
    responseElements: {
      'x-amz-id-2': 'dd9025bab4ad464b049177c95eb6ebf374d3b3fd1af9251148b658df7ac2e3e8',
      'x-amz-request-id': overrides.requestId ?? '187A6B2C3D4E5F60',
      'x-minio-origin-endpoint': 'http://127.0.0.1:7351',
    },
    s3: {
      s3SchemaVersion: '1.0',
      configurationId: 'Config',
      bucket: {
        name: overrides.bucket ?? 'uploads',
        ownerIdentity: { principalId: 'triggerhub' },
        arn: 'arn:aws:s3:::uploads',
      },
      object: {
        key: overrides.key ?? 'reports%2F2026%2Fq4.xml',
        size: 12,
        eTag: 'b1946ac92492d2347c6235b4d2611184',
        contentType: 'application/xml',
        userMetadata: { 'content-type': 'application/xml' },
        sequencer: overrides.sequencer ?? '187A6B2C3D4E5F60',
      },
    },
    source: { host: '127.0.0.1', port: '', userAgent: 'MinIO (linux; x64) minio-js/8.0.7' },
  };
}

function body(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

function readable(value: unknown): MinioRecord {
  const result = readRecord(value);
  if (isUnreadable(result)) throw new Error(result.reason);
  return result;
}

describe('object keys are decoded as query components, as MinIO escapes them', () => {
  it.each([
    ['a+b.txt', 'a b.txt'],
    ['a%2Bb.txt', 'a+b.txt'],
    ['donn%C3%A9es%2F%C3%A9t%C3%A9+2026%2Bx%25.csv', 'données/été 2026+x%.csv'],
    ['%E6%97%A5%E6%9C%AC%2F%F0%9F%93%84.xml', '日本/📄.xml'],
    ['plain/key.xml', 'plain/key.xml'],
  ])('%s → %s', (escaped, key) => {
    expect(decodeQueryComponent(escaped)).toBe(key);
  });

  it('round-trips every key that encodeURIComponent with + for spaces produces', () => {
    for (const key of ['a b', 'a+b', '100%', 'x/y/z', 'é', '🙂 ok', '?&=#']) {
      expect(decodeQueryComponent(encodeURIComponent(key).replaceAll('%20', '+'))).toBe(key);
    }
  });
});

describe('a body that is not a MinIO notification is a 400 with the reason', () => {
  it.each([
    ['empty', Buffer.alloc(0), /empty body/],
    ['not JSON', Buffer.from('{"Records": ['), /not valid JSON/],
    ['an array', body([record()]), /not a JSON object/],
    ['no Records', body({ EventName: 's3:ObjectCreated:Put', Key: 'uploads/x' }), /no "Records" array/],
    ['Records not an array', body({ Records: { s3: {} } }), /no "Records" array/],
  ])('%s', (_name, payload, reason) => {
    let error: unknown;
    try {
      parseNotification(payload);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(HubError);
    expect((error as HubError).status).toBe(400);
    expect((error as HubError).message).toMatch(reason);
  });

  it('a notification gives its records', () => {
    expect(
      parseNotification(body({ EventName: 's3:ObjectCreated:Put', Key: 'uploads/x', Records: [record()] })),
    ).toHaveLength(1);
  });
});

describe('records', () => {
  it('read bucket, decoded key, event name and time', () => {
    const read = readable(record());
    expect(read).toMatchObject({
      bucket: 'uploads',
      key: 'reports/2026/q4.xml',
      eventName: 's3:ObjectCreated:Put',
      eventTime: '2026-11-23T17:10:00.123Z',
    });
    expect(read.record).toEqual(record());
  });

  it('a record MinIO re-sends from its queue_dir gets the same id (so it enqueues nothing new)', () => {
    expect(readable(record()).id).toBe(readable(structuredClone(record())).id);
  });

  it('distinct events of one object get distinct ids, even with the same sequencer', () => {
    const idsSeen = new Set([
      readable(record()).id,
      readable(record({ eventName: 's3:ObjectRemoved:Delete' })).id,
      readable(record({ eventName: 's3:ObjectAccessed:Get', requestId: '1' })).id,
      readable(record({ eventName: 's3:ObjectAccessed:Get', requestId: '2' })).id,
      readable(record({ key: 'other.xml' })).id,
      readable(record({ bucket: 'other' })).id,
      readable(record({ sequencer: '187A6B2C3D4E5F61' })).id,
    ]);
    expect(idsSeen.size).toBe(7);
  });

  it('ids are legal BullMQ job ids and map back', () => {
    const { id } = readable(record({ key: '%E6%97%A5%3A1%2F2' }));
    expect(toJobId(id)).not.toContain(':');
    expect(fromJobId(toJobId(id))).toBe(id);
  });

  it.each([
    ['not an object', 'x', /not a JSON object/],
    ['without event name', { ...record(), eventName: undefined }, /no eventName/],
    ['without bucket', { ...record(), s3: { object: { key: 'a' } } }, /no s3.bucket.name/],
    ['without key', { ...record(), s3: { bucket: { name: 'b' }, object: {} } }, /no s3.object.key/],
    ['with a broken escape', record({ key: 'bad%ZZkey' }), /not a valid query-escaped key/],
    ['with invalid UTF-8', record({ key: '%C3%28' }), /not a valid query-escaped key/],
  ])(
    'a record %s is unreadable (dead-lettered with the reason), with a stable id',
    (_name, value, reason) => {
      const result = readRecord(value);
      expect(isUnreadable(result)).toBe(true);
      if (!isUnreadable(result)) return;
      expect(result.reason).toMatch(reason);
      expect(result.id).toBe((readRecord(structuredClone(value)) as { id: string }).id);
    },
  );
});

describe('filters', () => {
  it.each([
    [['s3:ObjectCreated:*'], 's3:ObjectCreated:Put', true],
    [['s3:ObjectCreated:*'], 's3:ObjectCreated:CompleteMultipartUpload', true],
    [['s3:ObjectCreated:*'], 's3:ObjectRemoved:Delete', false],
    [['s3:ObjectCreated:Put'], 's3:ObjectCreated:PutTagging', false],
    [['put'], 's3:ObjectCreated:Copy', true],
    [['delete'], 's3:ObjectRemoved:DeleteMarkerCreated', true],
    [['put', 'delete'], 's3:ObjectAccessed:Get', false],
    [['*'], 's3:ObjectAccessed:Head', true],
    [undefined, 's3:BucketCreated', true],
  ])('events %j: %s → %s', (patterns, eventName, expected) => {
    expect(eventNameMatcher(patterns)(eventName)).toBe(expected);
  });

  it('bucket, prefix and suffix apply to the decoded key', () => {
    const matches = recordMatcher({ bucket: 'uploads', prefix: 'reports/', suffix: '.xml' });
    expect(matches(readable(record()))).toBe(true);
    expect(matches(readable(record({ bucket: 'other' })))).toBe(false);
    expect(matches(readable(record({ key: 'reports%2Fq4.csv' })))).toBe(false);
    expect(matches(readable(record({ key: 'archive%2Fq4.xml' })))).toBe(false);
    expect(recordMatcher({ prefix: 'a b/' })(readable(record({ key: 'a+b%2Fc.xml' })))).toBe(true);
  });
});

describe('spec', () => {
  it('requires the auth token and accepts mc shorthands and wildcards', () => {
    expect(minioSpec.safeParse({}).success).toBe(false);
    const parsed = minioSpec.parse({
      authToken: { env: 'T' },
      events: ['put', 's3:ObjectRemoved:*'],
      suffix: '.xml',
    });
    expect(parsed.maxBodyBytes).toBe(1_048_576);
  });

  it('refuses event names that are neither S3 names, wildcards nor shorthands', () => {
    expect(minioSpec.safeParse({ authToken: { env: 'T' }, events: ['ObjectCreated'] }).success).toBe(false);
  });

  it('event types are reverse-DNS', () => {
    expect(eventTypeOf('s3:ObjectCreated:Put')).toBe('io.triggerhub.minio.ObjectCreated.Put');
  });
});

const fixtureDir = join(import.meta.dirname, 'fixtures');
const fixtures = readdirSync(fixtureDir)
  .filter((name) => name.endsWith('.json') && name !== 'headers.json')
  .map((name) => [name, readFileSync(join(fixtureDir, name))] as const);

describe('real MinIO notifications (sensors/minio/fixtures)', () => {
  it('there are recorded payloads to check', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(5);
  });

  it.each(fixtures)('%s: bucket and decoded key are what MinIO itself decoded into "Key"', (_name, bytes) => {
    const payload = JSON.parse(bytes.toString('utf8')) as { EventName: string; Key: string };
    const records = parseNotification(bytes).map(readable);
    expect(records).toHaveLength(1);
    expect(`${records[0]!.bucket}/${records[0]!.key}`).toBe(payload.Key);
    expect(records[0]!.eventName).toBe(payload.EventName);
  });

  it('the unicode key with a space, + and % decodes exactly', () => {
    const bytes = fixtures.find(([name]) => name === 'put-unicode-plus-percent-space-key.json')![1];
    expect(readable(parseNotification(bytes)[0]).key).toBe('données/été 2026+x%.csv');
  });

  it('the put and the delete of one key get different ids', () => {
    const idOf = (name: string) => readable(parseNotification(fixtures.find(([n]) => n === name)![1])[0]).id;
    expect(idOf('put-unicode-plus-percent-space-key.json')).not.toBe(idOf('delete.json'));
  });
});
