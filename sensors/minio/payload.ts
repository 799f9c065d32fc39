// MinIO's webhook payload (notify_webhook): one POST per notification, shaped
//   {"EventName": "s3:ObjectCreated:Put", "Key": "<bucket>/<decoded key>", "Records": [ <S3 event record> ]}
// Records follow the AWS S3 event message structure, and like AWS, MinIO query-escapes the object key in
// the record (url.QueryEscape: a space is `+`, a literal `+` is `%2B`, `/` is `%2F`).

import { createHash } from 'node:crypto';
import { eventId } from '../../src/envelope/ids.ts';
import { HubError } from '../../src/errors.ts';

/** `minio/<bucket>/<key>/<sequencer>`: one notification of one object. */
export const minioEventId = (bucket: string, key: string, sequencer: string) =>
  eventId('minio', bucket, key, sequencer);

/** One record of a notification, with what the sensor needs read out of it. */
export interface MinioRecord {
  /** The record exactly as MinIO sent it (it becomes the event's data). */
  record: Record<string, unknown>;
  eventName: string;
  bucket: string;
  /** The object key, decoded. */
  key: string;
  /** The event id: the same record re-sent from MinIO's queue_dir gets the same one. */
  id: string;
  eventTime: string | undefined;
}

/** A record the sensor cannot read: still emitted (as a poison event) so it is dead-lettered, never dropped. */
export interface UnreadableRecord {
  record: unknown;
  reason: string;
  id: string;
}

/**
 * Decodes a query component the way Go's url.QueryUnescape does (`+` is a space, `%XX` a byte, the bytes
 * UTF-8). A path decoder would leave `+` alone and turn "a b.txt" (sent as `a+b.txt`) into "a+b.txt".
 */
export function decodeQueryComponent(text: string): string {
  return decodeURIComponent(text.replaceAll('+', ' '));
}

/** Reads the body into its records; a body that is not a MinIO notification is a 400 with the reason. */
export function parseNotification(body: Buffer): unknown[] {
  if (body.length === 0)
    throw new HubError('TH_ERR_BAD_REQUEST', 'empty body; expected a MinIO notification');
  let payload: unknown;
  try {
    payload = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new HubError('TH_ERR_BAD_REQUEST', `body is not valid JSON: ${(error as Error).message}`);
  }
  if (!isObject(payload)) throw new HubError('TH_ERR_BAD_REQUEST', 'body is not a JSON object');
  if (!Array.isArray(payload.Records))
    throw new HubError(
      'TH_ERR_BAD_REQUEST',
      'body has no "Records" array; expected a MinIO notification {"EventName", "Key", "Records": [...]}',
    );
  return payload.Records;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * The source position of a record. MinIO's sequencer is the object's modification time in hex nanoseconds,
 * so a put, its later reads and (for some deletes) its removal can share one: the event name and the S3
 * request id are part of the position so that distinct events never collapse into one id, while the very
 * same record re-sent from MinIO's queue_dir keeps its id (every field is re-sent as it was).
 */
function positionOf(
  record: Record<string, unknown>,
  object: Record<string, unknown>,
  eventName: string,
): string {
  const sequence = text(object.sequencer) ?? text(object.versionId) ?? text(record.eventTime) ?? '';
  const response = isObject(record.responseElements) ? record.responseElements : {};
  const requestId = text(response['x-amz-request-id']);
  return [sequence, eventName, ...(requestId ? [requestId] : [])].join('.');
}

function unreadable(record: unknown, reason: string, bucket = '', rawKey = ''): UnreadableRecord {
  const digest = createHash('sha256')
    .update(JSON.stringify(record) ?? 'undefined')
    .digest('hex');
  return { record, reason, id: minioEventId(bucket, rawKey, `sha256-${digest.slice(0, 32)}`) };
}

export function readRecord(record: unknown): MinioRecord | UnreadableRecord {
  if (!isObject(record)) return unreadable(record, 'record is not a JSON object');
  const eventName = text(record.eventName);
  const s3 = isObject(record.s3) ? record.s3 : undefined;
  const bucket = s3 && isObject(s3.bucket) ? text(s3.bucket.name) : undefined;
  const object = s3 && isObject(s3.object) ? s3.object : undefined;
  const rawKey = object ? text(object.key) : undefined;
  if (!eventName) return unreadable(record, 'record has no eventName', bucket, rawKey);
  if (!bucket) return unreadable(record, 'record has no s3.bucket.name', bucket, rawKey);
  if (!object || !rawKey) return unreadable(record, 'record has no s3.object.key', bucket, rawKey);
  let key: string;
  try {
    key = decodeQueryComponent(rawKey);
  } catch {
    return unreadable(
      record,
      `s3.object.key is not a valid query-escaped key: ${JSON.stringify(rawKey)}`,
      bucket,
      rawKey,
    );
  }
  const eventTime = text(record.eventTime);
  return {
    record,
    eventName,
    bucket,
    key,
    id: minioEventId(bucket, key, positionOf(record, object, eventName)),
    eventTime,
  };
}

export function isUnreadable(record: MinioRecord | UnreadableRecord): record is UnreadableRecord {
  return 'reason' in record;
}
