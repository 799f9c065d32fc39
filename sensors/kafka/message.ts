// A Kafka message → the hub's envelope, following the CloudEvents Kafka protocol binding where the message
// already is a CloudEvent:
//   - binary mode: `ce_<attribute>` headers carry the attributes, `content-type` is datacontenttype, the
//     value is the data;
//   - structured mode: `content-type: application/cloudevents+json`, the value is the whole event as JSON.
// Anything else is a plain message wrapped in a new event.
//
// The event id is ALWAYS the message's position, `kafka/<topic>/<partition>/<offset>`, even for a message
// that carries its own CloudEvents id, which is kept as the `originalid` extension. The id is the queue's job
// id: a position id makes a re-read of the same offset (after a crash or a rebalance) a no-op, and two
// different messages can never collapse into one, whatever ids their producers chose (a producer that
// reuses ids, or two producers with the same id scheme, would otherwise lose events silently).

import type { IHeaders, KafkaMessage } from 'kafkajs';
import type { EventInput } from '../../src/envelope/event.ts';
import { ids } from '../../src/envelope/ids.ts';
import { checkCloudEvent, decodeData, headerExtensions, headerText } from './payload.ts';

export interface MessageContext {
  /** The `source` of plain messages. */
  source: string;
  /** The `type` of plain messages. */
  eventType: string;
}

const structuredType = 'application/cloudevents+json';
const batchType = 'application/cloudevents-batch';

/** Header values as text (the first of repeated headers; binary values left out). */
function textHeaders(headers: IHeaders | undefined): Map<string, string | undefined> {
  const out = new Map<string, string | undefined>();
  for (const [name, raw] of Object.entries(headers ?? {})) {
    const value = Array.isArray(raw) ? raw[0] : raw;
    if (!out.has(name)) out.set(name, headerText(value));
  }
  return out;
}

function keyText(key: Buffer | null): string | undefined {
  if (key === null || key.length === 0) return undefined;
  return headerText(key) ?? key.toString('base64');
}

export function kafkaMessageToEvent(
  topic: string,
  partition: number,
  message: KafkaMessage,
  context: MessageContext,
): EventInput {
  const position = {
    id: ids.kafka(topic, partition, message.offset),
    kafkatopic: topic,
    kafkapartition: partition,
    kafkaoffset: message.offset,
  };
  const headers = textHeaders(message.headers);
  const contentType = headers.get('content-type');
  const partitionkey = keyText(message.key);
  const time = new Date(Number(message.timestamp));
  const messageTime = Number.isNaN(time.getTime()) ? undefined : time.toISOString();

  const poison = (reason: string): EventInput => ({
    source: context.source,
    type: context.eventType,
    subject: topic,
    ...(messageTime ? { time: messageTime } : {}),
    ...(partitionkey === undefined ? {} : { partitionkey }),
    ...decodeData(message.value, 'application/octet-stream'),
    ...position,
    poison: reason,
  });

  const mime = contentType?.split(';')[0]?.trim().toLowerCase();
  if (mime === structuredType) {
    const text =
      message.value && message.value.length > 0 ? decodeData(message.value, 'application/json') : undefined;
    if (text === undefined) return poison('a structured CloudEvent with an empty value');
    if (text.poison !== undefined) return poison(`a malformed structured CloudEvent: ${text.poison}`);
    const checked = checkCloudEvent(text.data);
    if (!checked.ok) return poison(`a malformed structured CloudEvent: ${checked.reason}`);
    return fromCloudEvent(checked.attributes, position, partitionkey);
  }
  if (mime?.startsWith(batchType))
    return poison(
      'a CloudEvents batch is not allowed in a Kafka message (the Kafka binding has no batch mode)',
    );

  if (headers.has('ce_specversion')) {
    const attributes: Record<string, unknown> = {};
    for (const [name, value] of headers) {
      if (!name.toLowerCase().startsWith('ce_') || value === undefined) continue;
      attributes[name.slice(3).toLowerCase()] = value;
    }
    const checked = checkCloudEvent(attributes);
    if (!checked.ok) return poison(`a malformed binary-mode CloudEvent: ${checked.reason}`);
    const data = decodeData(message.value, contentType);
    const event = fromCloudEvent({ ...checked.attributes, ...withoutPoison(data) }, position, partitionkey);
    return data.poison === undefined ? event : { ...event, poison: data.poison };
  }

  const data = decodeData(message.value, contentType);
  return {
    ...headerExtensions(headers),
    ...(partitionkey === undefined ? {} : { partitionkey }),
    source: context.source,
    type: context.eventType,
    subject: topic,
    ...(messageTime ? { time: messageTime } : {}),
    ...data,
    ...position,
  };
}

function withoutPoison(data: ReturnType<typeof decodeData>): Omit<ReturnType<typeof decodeData>, 'poison'> {
  const { poison: _poison, ...rest } = data;
  return rest;
}

/** A CloudEvent keeps every attribute but its id (see above); the key fills partitionkey if it has none. */
function fromCloudEvent(
  attributes: Record<string, unknown>,
  position: { id: string; kafkatopic: string; kafkapartition: number; kafkaoffset: string },
  partitionkey: string | undefined,
): EventInput {
  const { id, specversion: _specversion, ...rest } = attributes;
  return {
    ...(partitionkey === undefined ? {} : { partitionkey }),
    ...rest,
    originalid: id as string,
    ...position,
  } as unknown as EventInput;
}
