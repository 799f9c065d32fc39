// Function endpoints: CloudEvents over HTTP, binary mode (ce-* headers, body = data) by default; batched
// mode (a JSON array of structured events) when the trigger asks for delivery.batch.

import { createHash } from 'node:crypto';
import { CloudEvent, HTTP } from 'cloudevents';
import { eventBody, type HubEvent } from '../envelope/event.ts';
import { encodeHeaderValue } from '../envelope/header-encoding.ts';
import type { TargetSpec } from '../trigger/schema.ts';
import { send } from './http-client.ts';
import type { Target } from './target.ts';

type HttpTargetSpec = NonNullable<TargetSpec['http']>;

/** Headers that Fission's kubewatcher and Kubeless functions read, filled from the event where it has them. */
function compatibilityHeaders(spec: HttpTargetSpec, event: HubEvent): Record<string, string> {
  const headers: Record<string, string> = {};
  const put = (name: string, value: unknown) => {
    if (value !== undefined && value !== null) headers[name] = String(value);
  };
  if (spec.compatibility === 'fission') {
    put('X-Kubernetes-Event-Type', event.k8seventtype);
    put('X-Kubernetes-Object-Type', event.k8skind);
  } else if (spec.compatibility === 'kubeless') {
    put('event-id', event.id);
    put('event-type', event.type);
    put('event-time', event.time);
    put('event-namespace', event.source);
  }
  return headers;
}

function encode(
  spec: HttpTargetSpec,
  event: HubEvent,
): { headers: Record<string, string>; body: string | Buffer | undefined } {
  const { data_base64, ...attributes } = event;
  const cloudEvent = new CloudEvent<unknown>(
    data_base64 === undefined ? attributes : { ...attributes, data: Buffer.from(data_base64, 'base64') },
    false,
  );
  const message = spec.mode === 'structured' ? HTTP.structured(cloudEvent) : HTTP.binary(cloudEvent);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers)) {
    headers[name] = name.startsWith('ce-') ? encodeHeaderValue(String(value)) : String(value);
  }
  if (spec.mode === 'structured') return { headers, body: message.body as string };
  // Binary mode: the body is the data as its content type says (eventBody). cloudevents' own binary body
  // stringifies object data only: JSON data that is a string ("hi") went out bare (hi, not JSON), and a
  // number or boolean as a value undici refuses, so the event could never be delivered.
  return { headers, body: eventBody(event).body };
}

export function createHttpTarget(spec: HttpTargetSpec, timeoutMs: number): Target {
  return {
    async deliver(event) {
      const message = encode(spec, event);
      return send(spec.url, {
        timeoutMs,
        body: message.body,
        headers: {
          ...spec.headers,
          ...compatibilityHeaders(spec, event),
          ...message.headers,
          'idempotency-key': event.id,
        },
      });
    },
    // HubEvent is already the CloudEvents JSON format (flat attributes, `data` or `data_base64`), so the
    // batch body is the array itself. The key is the same for the same events: a re-sent batch is recognizable.
    async deliverBatch(events) {
      const ids = createHash('sha256');
      for (const event of events) ids.update(event.id).update('\n');
      return send(spec.url, {
        timeoutMs,
        body: JSON.stringify(events),
        headers: {
          ...spec.headers,
          'content-type': 'application/cloudevents-batch+json; charset=utf-8',
          'idempotency-key': `batch-${ids.digest('base64url')}`,
        },
      });
    },
    async close() {},
  };
}
