// Backfill of a MinIO trigger by listing its bucket (docs/backfill.md, "MinIO: list mode"). Notifications are
// pushed once and MinIO keeps no history of them, so this mode re-creates what can be re-created: one
// `s3:ObjectCreated:Put` event per object that exists now under the trigger's prefix/suffix, in key order.
//
// Bounds: a time compares the object's LastModified ([from, to)); a position is an object key, `key:<key>`
// or the bare key, and `from` is exclusive (listing starts after it, as S3's StartAfter and our cursor do),
// `to` exclusive too. The cursor is the last key listed, so a resumed run starts after it.
//
// The listing is signed by the `minio` client but its XML is read here, with fast-xml-parser set to keep every
// value a string: the client's own parser turns keys that look like numbers into numbers (`007` → `7`).

import { XMLParser } from 'fast-xml-parser';
import type { Client } from 'minio';
import type { EventInput } from '../../src/envelope/event.ts';

import { errorMessage, HubError } from '../../src/errors.ts';
import type {
  BackfillBatch,
  BackfillBound,
  BackfillReader,
  BackfillReaderOptions,
} from '../../src/sensor/backfill-reader.ts';
import { clientFor } from './client.ts';
import { eventNameMatcher, recordMatcher } from './match.ts';
import { decodeQueryComponent, type MinioRecord, minioEventId } from './payload.ts';
import { createPresigner, type Presigner } from './presign.ts';
import { eventTypeOf } from './sensor.ts';
import type { MinioSpec } from './spec.ts';

/** What a listed object stands for: the live sensor's event for a plain upload of it. */
const listedEventName = 's3:ObjectCreated:Put';
const maxPageSize = 1000;

export interface ListedObject {
  /** Decoded key. */
  key: string;
  lastModified: Date;
  etag: string;
  size: number;
}

interface ListPage {
  objects: ListedObject[];
  truncated: boolean;
}

interface Bound {
  /** ms since the epoch */
  time?: number;
  key?: string;
}

/** A MinIO position: an object key, `key:<key>` (use the prefix when the key starts like a date) or bare. */
export function parseKeyPosition(position: string, field: string): string {
  const key = position.startsWith('key:') ? position.slice(4) : position;
  if (key === '')
    throw new HubError(
      'TH_ERR_BAD_REQUEST',
      `${field}: "${position}" is not a MinIO position; expected key:<object key>`,
    );
  return key;
}

function bound(value: BackfillBound, field: string): Bound {
  if ('time' in value) {
    const time = value.time.getTime();
    if (Number.isNaN(time)) throw new HubError('TH_ERR_BAD_REQUEST', `${field}: not a valid time`);
    return { time };
  }
  return { key: parseKeyPosition(value.position, field) };
}

/** S3 orders keys by their UTF-8 bytes, which is not JavaScript's UTF-16 order for every character. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Percent-encodes everything but letters, digits and `-_.~` (RFC 3986 unreserved), as S3 signing wants. */
function uriEscape(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** Go's url.QueryEscape, the form MinIO puts the key in a notification record (`data.s3.object.key`). */
export function queryEscape(key: string): string {
  return uriEscape(key).replaceAll('%20', '+');
}

// Every value stays a string: the `minio` client's own listing parser turns keys that look like numbers into
// numbers (`007` → 7, `0x1A` → 26, `1.50` → 1.5).
const listingParser = new XMLParser({
  parseTagValue: false,
  trimValues: false,
  // MinIO writes quotes as numeric references (&#34;): decoded only with this on.
  htmlEntities: true,
  isArray: (name) => name === 'Contents',
});

interface ListingXml {
  ListBucketResult?: {
    EncodingType?: string;
    IsTruncated?: string;
    Contents?: Array<{ Key?: string; LastModified?: string; ETag?: string; Size?: string }>;
  };
}

/** Reads a ListObjectsV2 answer (encoding-type=url: keys come query-escaped). */
export function parseListing(xml: string): ListPage {
  const result = (listingParser.parse(xml) as ListingXml).ListBucketResult;
  if (!result) throw new Error(`not a ListObjectsV2 answer: ${xml.slice(0, 200)}`);
  const urlEncoded = result.EncodingType === 'url';
  const objects = (result.Contents ?? []).map((contents): ListedObject => {
    const lastModified = new Date(contents.LastModified ?? '');
    if (contents.Key === undefined || Number.isNaN(lastModified.getTime()))
      throw new Error(`a listed object without a key or time: ${JSON.stringify(contents).slice(0, 200)}`);
    return {
      key: urlEncoded ? decodeQueryComponent(contents.Key) : contents.Key,
      lastModified,
      etag: (contents.ETag ?? '').replace(/^"|"$/g, ''),
      size: Number(contents.Size ?? 0),
    };
  });
  return { objects, truncated: result.IsTruncated === 'true' };
}

async function listPage(
  client: Client,
  bucket: string,
  prefix: string,
  startAfter: string | undefined,
  maxKeys: number,
): Promise<ListPage> {
  const query = [
    'encoding-type=url',
    'list-type=2',
    `max-keys=${maxKeys}`,
    `prefix=${uriEscape(prefix)}`,
    ...(startAfter === undefined ? [] : [`start-after=${uriEscape(startAfter)}`]),
  ]
    .sort()
    .join('&');
  const response = await client.makeRequestAsync({ method: 'GET', bucketName: bucket, query });
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  return parseListing(Buffer.concat(chunks).toString('utf8'));
}

function refuse(field: string, why: string): never {
  throw new HubError('TH_ERR_BACKFILL_UNSUPPORTED', `spec.source.minio.${field}: ${why} (docs/backfill.md)`);
}

export function createMinioBackfillReader(
  spec: MinioSpec,
  options: BackfillReaderOptions,
  // Keys per ListObjectsV2 request (and so per batch); the tests use small pages to cross page ends.
  pageSize = maxPageSize,
): BackfillReader {
  if (!spec.backfill)
    refuse(
      'backfill',
      'not set; a MinIO trigger is backfilled by listing its bucket, which needs the endpoint and credentials to list it with',
    );
  const bucket =
    spec.bucket ?? refuse('bucket', 'not set; a backfill lists one bucket, name it in the trigger');
  if (!eventNameMatcher(spec.events)(listedEventName))
    refuse(
      'events',
      `keeps no ${listedEventName} events, and a listing gives only those (one per existing object): nothing would match`,
    );
  let client: Client;
  let presign: Presigner | undefined;
  try {
    client = clientFor(spec.backfill);
    presign = spec.presign ? createPresigner(spec.presign) : undefined;
  } catch (error) {
    // A missing secret: the request is refused now, naming where the secret should come from.
    refuse('backfill', `cannot build the listing client: ${errorMessage(error)}`);
  }
  const { signal } = options;
  const from = bound(options.from, 'from');
  const to = bound(options.to, 'to');
  if (from.key !== undefined && to.key !== undefined && compareKeys(from.key, to.key) >= 0)
    throw new HubError('TH_ERR_BAD_REQUEST', `to: key ${JSON.stringify(to.key)} is not after from`);
  const matches = recordMatcher(spec);
  const source = `/triggerhub/minio/${options.trigger.key}`;
  const prefix = spec.prefix ?? '';
  const pageKeys = Math.max(1, Math.min(maxPageSize, pageSize));

  /** Key bounds are the listing's own (StartAfter, the stop below); time bounds are checked here. */
  function inRange(object: ListedObject): boolean {
    const time = object.lastModified.getTime();
    return (from.time === undefined || time >= from.time) && (to.time === undefined || time < to.time);
  }

  async function toEvent(object: ListedObject): Promise<EventInput | undefined> {
    const eventTime = object.lastModified.toISOString();
    // The live record's shape, as far as a listing knows it (no sequencer, request id, content type, user
    // metadata); the key query-escaped as MinIO sends it.
    const data = {
      eventVersion: '2.0',
      eventSource: 'minio:s3',
      eventTime,
      eventName: listedEventName,
      s3: {
        s3SchemaVersion: '1.0',
        bucket: { name: bucket, arn: `arn:aws:s3:::${bucket}` },
        object: { key: queryEscape(object.key), size: object.size, eTag: object.etag },
      },
    };
    const record: MinioRecord = {
      record: data,
      eventName: listedEventName,
      bucket,
      key: object.key,
      // `listed.` never starts a live position (a hex sequencer): a listed id never collides with one.
      id: minioEventId(bucket, object.key, `listed.${object.etag}`),
      eventTime,
    };
    if (!matches(record)) return undefined;
    const event: EventInput = {
      id: record.id,
      source,
      type: eventTypeOf(listedEventName),
      subject: `${bucket}/${object.key}`,
      datacontenttype: 'application/json',
      data,
      bucket,
      time: eventTime,
    };
    if (presign) event.presignedurl = await presign(bucket, object.key);
    return event;
  }

  return {
    // Counting would list the whole prefix twice; one key is listed to turn a wrong endpoint, bucket or
    // credentials into an answer at request time.
    async estimate() {
      await listPage(client, bucket, prefix, undefined, 1);
      return undefined;
    },
    async *read(): AsyncIterable<BackfillBatch> {
      let after = options.cursor?.after ?? from.key;
      for (;;) {
        if (signal.aborted) return;
        const page = await listPage(client, bucket, prefix, after, pageKeys);
        const events: EventInput[] = [];
        let last = after;
        let reachedEnd = !page.truncated;
        for (const object of page.objects) {
          if (to.key !== undefined && compareKeys(object.key, to.key) >= 0) {
            reachedEnd = true;
            break;
          }
          last = object.key;
          if (!inRange(object)) continue;
          const event = await toEvent(object);
          if (event) events.push(event);
        }
        if (last !== undefined && last !== after) yield { events, cursor: { after: last } };
        if (reachedEnd || last === after) return;
        after = last;
      }
    },
    async close() {},
  };
}
