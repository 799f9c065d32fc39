// A Kafka message → the hub's envelope (see brokerMessageToEvent for the CloudEvents rules and the id):
// the id is the position `kafka/<topic>/<partition>/<offset>`, binary-mode CloudEvents use `ce_` headers
// (the CloudEvents Kafka binding), the key is the partitionkey, the broker's timestamp the time.

import type { IHeaders, KafkaMessage } from 'kafkajs';
import { brokerMessageToEvent, headerText } from '../../src/envelope/broker-message.ts';
import type { EventInput } from '../../src/envelope/event.ts';
import { eventId } from '../../src/envelope/ids.ts';

/** `kafka/<topic>/<partition>/<offset>`: the message's position. */
export const kafkaEventId = (topic: string, partition: number, offset: string) =>
  eventId('kafka', topic, partition, offset);

export interface MessageContext {
  /** The `source` of plain messages. */
  source: string;
  /** The `type` of plain messages. */
  eventType: string;
}

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
  const time = new Date(Number(message.timestamp));
  return brokerMessageToEvent({
    id: kafkaEventId(topic, partition, message.offset),
    position: { kafkatopic: topic, kafkapartition: partition, kafkaoffset: message.offset },
    headers: textHeaders(message.headers),
    value: message.value,
    key: keyText(message.key),
    time: Number.isNaN(time.getTime()) ? undefined : time.toISOString(),
    subject: topic,
    cePrefix: 'ce_',
    source: context.source,
    eventType: context.eventType,
  });
}
