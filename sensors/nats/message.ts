// A NATS message → the hub's envelope (see brokerMessageToEvent for the CloudEvents rules and the id).
// JetStream: the id is the stream position `jetstream/<stream>/<stream sequence>`, so a redelivery is a
// no-op in the queue. Core NATS has no position: the publisher's Nats-Msg-Id when it sets one, else a
// random id (core NATS is at-most-once anyway). Binary-mode CloudEvents use `ce-` headers (the CloudEvents
// NATS binding), structured mode `content-type: application/cloudevents+json`.

import { randomUUID } from 'node:crypto';
import type { JsMsg, Msg, MsgHdrs } from 'nats';
import { brokerMessageToEvent } from '../../src/envelope/broker-message.ts';
import type { EventInput } from '../../src/envelope/event.ts';
import { eventId } from '../../src/envelope/ids.ts';

/** `jetstream/<stream>/<stream sequence>`: the message's position in its stream. */
export const jetStreamEventId = (stream: string, sequence: number | bigint) =>
  eventId('jetstream', stream, sequence);

/** The `source` of every event of a NATS trigger (live and backfilled alike). */
export function natsEventSource(triggerKey: string): string {
  return `/triggerhub/nats/${triggerKey}`;
}

export interface MessageContext {
  source: string;
  eventType: string;
}

function textHeaders(headers: MsgHdrs | undefined): Map<string, string | undefined> {
  const out = new Map<string, string | undefined>();
  if (!headers) return out;
  for (const [name, values] of headers) if (!out.has(name)) out.set(name, values[0]);
  return out;
}

function bytes(data: Uint8Array): Buffer | null {
  return data.length === 0 ? null : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

export function jetStreamMessageToEvent(message: JsMsg, context: MessageContext): EventInput {
  const { stream, streamSequence, timestampNanos } = message.info;
  return brokerMessageToEvent({
    id: jetStreamEventId(stream, streamSequence),
    position: { natsstream: stream, natssequence: streamSequence },
    headers: textHeaders(message.headers),
    value: bytes(message.data),
    time: new Date(Math.floor(timestampNanos / 1e6)).toISOString(),
    subject: message.subject,
    cePrefix: 'ce-',
    ...context,
  });
}

export function coreMessageToEvent(message: Msg, context: MessageContext): EventInput {
  const headers = textHeaders(message.headers);
  const msgId = message.headers?.get('Nats-Msg-Id');
  return brokerMessageToEvent({
    id: eventId('nats', message.subject, msgId || randomUUID()),
    position: {},
    headers,
    value: bytes(message.data),
    subject: message.subject,
    cePrefix: 'ce-',
    ...context,
  });
}
