// What the response and error topics receive (Kafka topics, NATS subjects alike): the function's reply, or
// the dead-lettered event, with headers that say which event, which trigger and what went wrong.
// Header names are `triggerhub-*`, not `ce_*`/`ce-`: the record is not that CloudEvent (a reply is the
// function's body; an error record's CloudEvent is its value), and a consumer must not take it for one.

import type { DeliveryResponse, LastAttempt } from '../interfaces/delivery.ts';
import type { HubEvent } from './event.ts';

export interface OutgoingRecord {
  key: string | undefined;
  value: Buffer;
  headers: Record<string, string>;
}

/** Header values must fit in a header: one line, bounded. */
function headerValue(text: string, max = 1024): string {
  const line = text.replace(/[\r\n]+/g, ' ');
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

function eventHeaders(event: HubEvent, trigger: string): Record<string, string> {
  return {
    'triggerhub-trigger': trigger,
    'triggerhub-event-id': event.id,
    'triggerhub-event-source': headerValue(event.source),
    'triggerhub-event-type': headerValue(event.type),
  };
}

function keyOf(event: HubEvent): string | undefined {
  return typeof event.partitionkey === 'string' ? event.partitionkey : undefined;
}

export function responseRecord(event: HubEvent, response: DeliveryResponse, trigger: string): OutgoingRecord {
  return {
    key: keyOf(event),
    value: response.body,
    headers: {
      ...eventHeaders(event, trigger),
      'triggerhub-status': String(response.status),
      ...(response.contentType ? { 'content-type': response.contentType } : {}),
    },
  };
}

export function errorRecord(event: HubEvent, lastAttempt: LastAttempt, trigger: string): OutgoingRecord {
  return {
    key: keyOf(event),
    value: Buffer.from(JSON.stringify(event)),
    headers: {
      ...eventHeaders(event, trigger),
      'content-type': 'application/cloudevents+json; charset=utf-8',
      'triggerhub-error': headerValue(lastAttempt.error),
      'triggerhub-failed-at': lastAttempt.at,
      ...(lastAttempt.status === undefined ? {} : { 'triggerhub-status': String(lastAttempt.status) }),
      ...(lastAttempt.excerpt === undefined
        ? {}
        : { 'triggerhub-excerpt': headerValue(lastAttempt.excerpt) }),
    },
  };
}
