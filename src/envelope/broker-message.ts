// Turning a message's bytes and headers into CloudEvents attributes, for the message-broker sensors (Kafka,
// NATS): the rules a broker binding of CloudEvents leaves to the receiver.
//   - A value declared JSON must parse, or the event is poison (dead-lettered with the parse error).
//   - An undeclared value is JSON if it parses, UTF-8 text if it decodes, bytes otherwise: never dropped.
//   - A value declared anything else travels as bytes (data_base64) with that content type, untouched.

import { isUtf8 } from 'node:buffer';
import { coreAttributes, type EventInput, isJsonContentType, isLegalExtensionName } from './event.ts';

export interface DecodedData {
  datacontenttype?: string;
  data?: unknown;
  data_base64?: string;
  /** Why the value could not be used as declared (the event is then dead-lettered with this reason). */
  poison?: string;
}

export function decodeData(value: Buffer | null | undefined, declared: string | undefined): DecodedData {
  if (value === null || value === undefined || value.length === 0)
    return declared ? { datacontenttype: declared } : {};
  if (declared !== undefined && isJsonContentType(declared)) {
    const parsed = parseJson(value);
    if (parsed.ok) return { datacontenttype: declared, data: parsed.value };
    // The raw bytes stay in the dead-letter entry, so the producer's bug can be seen and the event replayed.
    return {
      datacontenttype: 'application/octet-stream',
      data_base64: value.toString('base64'),
      poison: `the value is declared ${declared} but is not valid JSON: ${parsed.error}`,
    };
  }
  if (declared !== undefined) return { datacontenttype: declared, data_base64: value.toString('base64') };
  const parsed = parseJson(value);
  if (parsed.ok) return { datacontenttype: 'application/json', data: parsed.value };
  if (isUtf8(value)) return { datacontenttype: 'text/plain; charset=utf-8', data: value.toString('utf8') };
  return { datacontenttype: 'application/octet-stream', data_base64: value.toString('base64') };
}

function parseJson(value: Buffer): { ok: true; value: unknown } | { ok: false; error: string } {
  if (!isUtf8(value)) return { ok: false, error: 'not UTF-8' };
  try {
    return { ok: true, value: JSON.parse(value.toString('utf8')) };
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  }
}

/** A header value as text, or undefined when it is not valid UTF-8 (binary headers are not carried over). */
export function headerText(value: Buffer | string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return value;
  return isUtf8(value) ? value.toString('utf8') : undefined;
}

/**
 * Plain headers as CloudEvents extensions: names lower-cased, kept only when legal (a–z0–9, ≤ 20 chars, not
 * a core attribute) and UTF-8. `traceparent` survives; `x-request-id` does not (a `-` is not allowed).
 */
export function headerExtensions(headers: Iterable<[string, string | undefined]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of headers) {
    const lower = name.toLowerCase();
    if (value !== undefined && isLegalExtensionName(lower) && !(lower in out)) out[lower] = value;
  }
  return out;
}

export type CloudEventCheck =
  | { ok: true; attributes: Record<string, unknown> }
  | { ok: false; reason: string };

/**
 * Checks the attributes of an incoming CloudEvent (structured JSON or collected from binary-mode headers):
 * specversion 1.0 and non-empty id, source and type strings; extensions with illegal names are dropped.
 */
export function checkCloudEvent(candidate: unknown): CloudEventCheck {
  if (typeof candidate !== 'object' || candidate === null || Array.isArray(candidate))
    return { ok: false, reason: 'a structured CloudEvent must be a JSON object' };
  const event = candidate as Record<string, unknown>;
  if (event.specversion !== '1.0')
    return { ok: false, reason: `unsupported CloudEvents specversion ${JSON.stringify(event.specversion)}` };
  for (const name of ['id', 'source', 'type'])
    if (typeof event[name] !== 'string' || event[name] === '')
      return { ok: false, reason: `the CloudEvent has no ${name} attribute` };
  for (const name of ['subject', 'time', 'datacontenttype', 'dataschema', 'data_base64'])
    if (event[name] !== undefined && typeof event[name] !== 'string')
      return { ok: false, reason: `the CloudEvent's ${name} attribute is not a string` };
  if (event.time !== undefined && Number.isNaN(Date.parse(event.time as string)))
    return {
      ok: false,
      reason: `the CloudEvent's time ${JSON.stringify(event.time)} is not an RFC 3339 time`,
    };
  if (event.data !== undefined && event.data_base64 !== undefined)
    return { ok: false, reason: 'the CloudEvent has both data and data_base64' };
  const attributes: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(event)) {
    if (value === undefined || value === null) continue;
    if (coreAttributes.has(name)) attributes[name] = value;
    else if (isLegalExtensionName(name) && ['string', 'number', 'boolean'].includes(typeof value))
      attributes[name] = value;
  }
  return { ok: true, attributes };
}

export interface BrokerMessage {
  /** The deterministic id of the message's position (the queue's job id). */
  id: string;
  /** Extensions that say where the message was read (topic/partition/offset, stream/sequence). */
  position: Record<string, string | number>;
  /** Header values as text (undefined: not UTF-8), names as received. */
  headers: Map<string, string | undefined>;
  value: Buffer | null;
  /** The message key (Kafka), as partitionkey unless the event has its own. */
  key?: string | undefined;
  /** When the broker stored the message. */
  time?: string | undefined;
  /** The broker's subject/topic: the `subject` of a plain message. */
  subject: string;
  /** Header prefix of binary-mode CloudEvents attributes: `ce_` (Kafka), `ce-` (NATS). */
  cePrefix: string;
  /** `source` and `type` of plain messages. */
  source: string;
  eventType: string;
}

const structuredType = 'application/cloudevents+json';
const batchType = 'application/cloudevents-batch';

function header(headers: Map<string, string | undefined>, name: string): string | undefined {
  for (const [key, value] of headers) if (key.toLowerCase() === name) return value;
  return undefined;
}

/**
 * A broker message → the hub's envelope, following the CloudEvents protocol bindings where the message
 * already is a CloudEvent:
 *   - binary mode: `<prefix><attribute>` headers carry the attributes, `content-type` is datacontenttype, the
 *     value is the data;
 *   - structured mode: `content-type: application/cloudevents+json`, the value is the whole event as JSON.
 * Anything else is a plain message wrapped in a new event. A CloudEvent that breaks the spec is poison.
 *
 * The event id is ALWAYS the message's position, even for a message that carries its own CloudEvents id,
 * which is kept as the `originalid` extension. The id is the queue's job id: a position id makes a re-read
 * of the same position (after a crash, a rebalance, a redelivery) a no-op, and two different messages never
 * collapse into one, whatever ids their producers chose (a producer that reuses ids, or two producers with
 * the same id scheme, would otherwise lose events silently).
 */
export function brokerMessageToEvent(message: BrokerMessage): EventInput {
  const { headers, value, key } = message;
  const position = { ...message.position, id: message.id };
  const contentType = header(headers, 'content-type');
  const plain = {
    source: message.source,
    type: message.eventType,
    subject: message.subject,
    ...(message.time ? { time: message.time } : {}),
  };
  const poison = (reason: string): EventInput => ({
    ...plain,
    ...(key === undefined ? {} : { partitionkey: key }),
    ...decodeData(value, 'application/octet-stream'),
    ...position,
    poison: reason,
  });

  const mime = contentType?.split(';')[0]?.trim().toLowerCase();
  if (mime === structuredType) {
    if (value === null || value.length === 0) return poison('a structured CloudEvent with an empty value');
    const parsed = decodeData(value, 'application/json');
    if (parsed.poison !== undefined) return poison(`a malformed structured CloudEvent: ${parsed.poison}`);
    const checked = checkCloudEvent(parsed.data);
    if (!checked.ok) return poison(`a malformed structured CloudEvent: ${checked.reason}`);
    return fromCloudEvent(checked.attributes, position, key);
  }
  if (mime?.startsWith(batchType))
    return poison('a CloudEvents batch cannot be one message (the broker bindings have no batch mode)');

  const prefix = message.cePrefix;
  if (header(headers, `${prefix}specversion`) !== undefined) {
    const attributes: Record<string, unknown> = {};
    for (const [name, text] of headers) {
      const lower = name.toLowerCase();
      if (lower.startsWith(prefix) && text !== undefined) attributes[lower.slice(prefix.length)] = text;
    }
    const checked = checkCloudEvent(attributes);
    if (!checked.ok) return poison(`a malformed binary-mode CloudEvent: ${checked.reason}`);
    const { poison: reason, ...data } = decodeData(value, contentType);
    const event = fromCloudEvent({ ...checked.attributes, ...data }, position, key);
    return reason === undefined ? event : { ...event, poison: reason };
  }

  return {
    ...headerExtensions(headers),
    ...(key === undefined ? {} : { partitionkey: key }),
    ...plain,
    ...decodeData(value, contentType),
    ...position,
  };
}

/** A CloudEvent keeps every attribute but its id (see above); the key fills partitionkey if it has none. */
function fromCloudEvent(
  attributes: Record<string, unknown>,
  position: Record<string, string | number> & { id: string },
  key: string | undefined,
): EventInput {
  const { id, specversion: _specversion, ...rest } = attributes;
  return {
    ...(key === undefined ? {} : { partitionkey: key }),
    ...rest,
    originalid: id as string,
    ...position,
  } as unknown as EventInput;
}
