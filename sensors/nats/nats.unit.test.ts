// NATS messages → the hub's envelope, and the NATS source spec.

import { readFileSync } from 'node:fs';
import { headers, type JsMsg, type Msg } from 'nats';
import { describe, expect, it } from 'vitest';
import { coreMessageToEvent, jetStreamMessageToEvent } from './message.ts';
import { defaultDurable } from './sensor.ts';
import { natsSpec } from './spec.ts';

const context = { source: '/triggerhub/nats/shop/orders', eventType: 'io.triggerhub.nats.message' };

function jsMessage(data: string | Uint8Array, hdrs?: Record<string, string>, sequence = 42): JsMsg {
  const h = hdrs ? headers() : undefined;
  for (const [name, value] of Object.entries(hdrs ?? {})) h!.set(name, value);
  return {
    subject: 'orders.created',
    data: typeof data === 'string' ? new TextEncoder().encode(data) : data,
    headers: h,
    info: { stream: 'ORDERS', streamSequence: sequence, timestampNanos: 1_795_454_099_692_000_000 },
  } as unknown as JsMsg;
}

describe('a NATS message becomes a CloudEvent', () => {
  it('a JetStream message gets its stream position as id, JSON data, the subject and the stored time', () => {
    expect(jetStreamMessageToEvent(jsMessage('{"order":1}'), context)).toMatchObject({
      id: 'jetstream/ORDERS/42',
      source: context.source,
      type: context.eventType,
      subject: 'orders.created',
      time: new Date(1_795_454_099_692).toISOString(),
      natsstream: 'ORDERS',
      natssequence: 42,
      datacontenttype: 'application/json',
      data: { order: 1 },
    });
  });

  it('a binary-mode CloudEvent (ce- headers) keeps its attributes; the producer id becomes originalid', () => {
    const event = jetStreamMessageToEvent(
      jsMessage('{"amount":5}', {
        'ce-specversion': '1.0',
        'ce-id': 'inv-1',
        'ce-source': '/billing',
        'ce-type': 'com.example.invoice.paid',
        'ce-tenant': 'acme',
        'content-type': 'application/json',
      }),
      context,
    );
    expect(event).toMatchObject({
      id: 'jetstream/ORDERS/42',
      originalid: 'inv-1',
      source: '/billing',
      type: 'com.example.invoice.paid',
      tenant: 'acme',
      data: { amount: 5 },
    });
  });

  it('bytes are data_base64; a malformed structured CloudEvent is poison', () => {
    const bytes = new Uint8Array([0xff, 0x00, 0x9c]);
    expect(jetStreamMessageToEvent(jsMessage(bytes), context)).toMatchObject({
      datacontenttype: 'application/octet-stream',
      data_base64: Buffer.from(bytes).toString('base64'),
    });
    const poison = jetStreamMessageToEvent(
      jsMessage('{"specversion":"1.0"}', { 'content-type': 'application/cloudevents+json' }),
      context,
    );
    expect(poison.poison).toMatch(/malformed structured CloudEvent: .*no id/);
  });

  it('a core message uses the publisher Nats-Msg-Id when there is one, so a re-publish dedupes', () => {
    const h = headers();
    h.set('Nats-Msg-Id', 'reading-7');
    const message = {
      subject: 'sensors.a.reading',
      data: new TextEncoder().encode('21.5'),
      headers: h,
    } as unknown as Msg;
    expect(coreMessageToEvent(message, context).id).toBe('nats/sensors.a.reading/reading-7');
    const anonymous = { ...message, headers: undefined } as unknown as Msg;
    expect(coreMessageToEvent(anonymous, context).id).not.toBe(coreMessageToEvent(anonymous, context).id);
  });
});

interface Recorded {
  subject: string;
  data: string;
  headers: Record<string, string[]> | null;
  info: { stream: string; streamSequence: number; timestampNanos: number };
}

const recorded = (
  JSON.parse(readFileSync(new URL('./fixtures/jetstream-messages.json', import.meta.url), 'utf8')) as {
    messages: Recorded[];
  }
).messages;

function replay(index: number): JsMsg {
  const message = recorded[index]!;
  const h = message.headers ? headers() : undefined;
  for (const [name, values] of Object.entries(message.headers ?? {}))
    for (const value of values) h!.append(name, value);
  return {
    subject: message.subject,
    data: new Uint8Array(Buffer.from(message.data, 'base64')),
    headers: h,
    info: message.info,
  } as unknown as JsMsg;
}

describe('JetStream messages recorded from the real server', () => {
  const convert = (index: number) => jetStreamMessageToEvent(replay(index), context);

  it('a plain JSON message', () => {
    expect(convert(0)).toMatchObject({
      id: 'jetstream/ORDERS/1',
      subject: 'rec.orders.created',
      data: { orderId: 1043, total: 12 },
    });
  });

  it('a binary-mode CloudEvent keeps its attributes', () => {
    expect(convert(1)).toMatchObject({
      id: 'jetstream/ORDERS/2',
      originalid: 'inv-2026-0042',
      source: '/billing/invoices',
      type: 'com.example.invoice.paid',
      subject: 'invoice-42',
      time: '2026-11-23T17:20:00Z',
      data: { amount: 99.5, currency: 'EUR' },
    });
  });

  it('a structured CloudEvent keeps its attributes', () => {
    expect(convert(2)).toMatchObject({
      id: 'jetstream/ORDERS/3',
      originalid: 'inv-2026-0043',
      data: { amount: 5 },
    });
  });

  it('legal header names become extensions; the others do not', () => {
    const event = convert(3);
    expect(event.traceparent).toBe('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
    expect(Object.keys(event).some((name) => name.includes('-'))).toBe(false);
  });

  it('binary bytes travel as data_base64', () => {
    expect(convert(4)).toMatchObject({
      datacontenttype: 'application/octet-stream',
      data_base64: recorded[4]!.data,
    });
  });
});

describe('the nats source spec', () => {
  const servers = ['nats://127.0.0.1:4222'];
  it('wants exactly one of subject and jetstream', () => {
    expect(natsSpec.safeParse({ servers }).success).toBe(false);
    expect(natsSpec.safeParse({ servers, subject: 'a.>', jetstream: { stream: 'S' } }).success).toBe(false);
    expect(natsSpec.safeParse({ servers, subject: 'a.*' }).success).toBe(true);
    expect(natsSpec.parse({ servers, jetstream: { stream: 'S' } }).jetstream).toMatchObject({
      deliverPolicy: 'all',
      ackWaitMs: 30_000,
      maxAckPending: 2000,
    });
  });

  it('rejects a durable name NATS would refuse, and derives a legal default from the trigger', () => {
    expect(natsSpec.safeParse({ servers, jetstream: { stream: 'S', durable: 'a.b' } }).success).toBe(false);
    expect(defaultDurable('shop', 'orders.v2')).toBe('trigger-hub_shop_orders-v2');
  });

  it('takes passwords only as references', () => {
    const auth = { user: 'hub', password: { env: 'NATS_PASSWORD' } };
    expect(natsSpec.safeParse({ servers, subject: 'a', auth }).success).toBe(true);
    expect(natsSpec.safeParse({ servers, subject: 'a', auth: { user: 'hub', password: 'x' } }).success).toBe(
      false,
    );
    expect(natsSpec.safeParse({ servers, subject: 'a', auth: { user: 'hub' } }).success).toBe(false);
  });
});
