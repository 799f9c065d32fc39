// One Kinesis record → one CloudEvent. The id is the record's place in the stream (shard, sequence number),
// so a re-read after a crash or a lease takeover enqueues nothing new.

import type { EventInput } from '../../src/envelope/event.ts';
import { eventId } from '../../src/envelope/ids.ts';
import { type KinesisSpec, parseStream } from './spec.ts';

/** `kinesis/<shard>/<sequence number>`: the record's position. */
export const kinesisEventId = (shardId: string, sequenceNumber: string) =>
  eventId('kinesis', shardId, sequenceNumber);

/** The `source` of a stream's events (live and backfilled alike): its ARN, else a path naming it. */
export function kinesisEventSource(spec: Pick<KinesisSpec, 'stream'>): string {
  const stream = parseStream(spec.stream);
  return stream.arn ?? `/triggerhub/kinesis/${stream.name}`;
}

/** What the sensor needs of a record (the SDK's `_Record`). */
export interface KinesisRecord {
  SequenceNumber?: string;
  ApproximateArrivalTimestamp?: Date;
  Data?: Uint8Array;
  PartitionKey?: string;
  EncryptionType?: string;
}

/** The first bytes of a record written by the Kinesis Producer Library's aggregation (a protobuf inside). */
const kplMagic = Buffer.from([0xf3, 0x89, 0x9a, 0xc2]);

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function isKplAggregated(data: Uint8Array): boolean {
  return data.length >= kplMagic.length && kplMagic.equals(Buffer.from(data.buffer, data.byteOffset, 4));
}

/** JSON when the bytes are UTF-8 JSON, otherwise undefined (the bytes go out as data_base64). */
function parseJson(data: Uint8Array): { value: unknown } | undefined {
  if (data.length === 0) return undefined;
  try {
    return { value: JSON.parse(utf8.decode(data)) };
  } catch {
    return undefined;
  }
}

export function recordToEvent(
  record: KinesisRecord,
  shardId: string,
  options: { source: string; type: string },
): EventInput {
  const sequence = record.SequenceNumber ?? '';
  const data = record.Data ?? new Uint8Array();
  // An out-of-range timestamp parses to an Invalid Date, whose toISOString throws: that would fail the
  // shard's batch again on every read. The event goes without a time instead.
  const timestamp = record.ApproximateArrivalTimestamp;
  const arrival = timestamp && !Number.isNaN(timestamp.getTime()) ? timestamp.toISOString() : undefined;
  const event: EventInput = {
    id: kinesisEventId(shardId, sequence),
    source: options.source,
    type: options.type,
    subject: shardId,
    sequence,
  };
  if (arrival !== undefined) {
    event.time = arrival;
    event.arrivaltime = arrival;
  }
  if (record.PartitionKey !== undefined) event.partitionkey = record.PartitionKey;
  // Aggregated records are passed on whole (not de-aggregated): flagged so a function can tell.
  const aggregated = isKplAggregated(data);
  const json = aggregated ? undefined : parseJson(data);
  if (aggregated) event.kplaggregated = true;
  if (json) {
    event.datacontenttype = 'application/json';
    event.data = json.value;
  } else {
    event.datacontenttype = 'application/octet-stream';
    event.data_base64 = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64');
  }
  return event;
}
