// Turning a message's bytes and headers into CloudEvents attributes, for the message-broker sensors (Kafka
// here, NATS reuses it): the rules a broker binding of CloudEvents leaves to the receiver.
//   - A value declared JSON must parse, or the event is poison (dead-lettered with the parse error).
//   - An undeclared value is JSON if it parses, UTF-8 text if it decodes, bytes otherwise: never dropped.
//   - A value declared anything else travels as bytes (data_base64) with that content type, untouched.

import { isUtf8 } from 'node:buffer';
import { coreAttributes, isJsonContentType, isLegalExtensionName } from '../../src/envelope/event.ts';

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
