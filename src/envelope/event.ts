// The one envelope every event travels in: CloudEvents 1.0 attributes, flat, as in the JSON format
// (extensions beside the core attributes; binary data as `data_base64`). This is what sits in Redis.

export interface HubEvent extends EventAttributes {
  specversion: '1.0';
}

interface EventAttributes {
  /** Deterministic id derived from the source position (see ids.ts); also the BullMQ job id, encoded. */
  id: string;
  source: string;
  type: string;
  subject?: string;
  time?: string;
  datacontenttype?: string;
  dataschema?: string;
  data?: unknown;
  data_base64?: string;
  /** Extension attributes: lower-case a–z0–9 names, string/number/boolean values. */
  [extension: string]: unknown;
}

/** What a sensor hands to emit: the envelope minus what the hub fills in. */
export interface EventInput extends EventAttributes {
  specversion?: '1.0';
  /**
   * The source message could not be parsed: the event still enters the queue (so it is acknowledged at the
   * source and nothing is lost) but goes straight to the dead-letter queue with this reason.
   */
  poison?: string;
}

export const coreAttributes = new Set([
  'specversion',
  'id',
  'source',
  'type',
  'subject',
  'time',
  'datacontenttype',
  'dataschema',
  'data',
  'data_base64',
]);

const extensionName = /^[a-z0-9]{1,20}$/;

/** CloudEvents extension names must be lower-case alphanumerics; anything else is not carried over. */
export function isLegalExtensionName(name: string): boolean {
  return extensionName.test(name) && !coreAttributes.has(name);
}

export function toHubEvent(input: EventInput, now: () => Date = () => new Date()): HubEvent {
  const { poison: _poison, ...event } = input;
  return { ...event, specversion: '1.0', time: (event.time as string | undefined) ?? now().toISOString() };
}

/** The event's data as bytes for a binary-mode body, with its content type. */
export function eventBody(event: HubEvent): {
  body: Buffer | string | undefined;
  contentType: string | undefined;
} {
  if (event.data_base64 !== undefined) {
    return {
      body: Buffer.from(event.data_base64, 'base64'),
      contentType: event.datacontenttype ?? 'application/octet-stream',
    };
  }
  if (event.data === undefined) return { body: undefined, contentType: event.datacontenttype };
  const contentType = event.datacontenttype ?? 'application/json';
  if (typeof event.data === 'string' && !isJsonContentType(contentType))
    return { body: event.data, contentType };
  return { body: JSON.stringify(event.data), contentType };
}

export function isJsonContentType(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const mime = contentType.split(';')[0]!.trim().toLowerCase();
  return mime === 'application/json' || mime.endsWith('+json') || mime === 'text/json';
}

/** Extension attributes of an event (everything but the core attributes). */
export function extensionsOf(event: HubEvent): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(event)) if (!coreAttributes.has(key)) out[key] = value;
  return out;
}
