// Generic webhook: answers 2xx only once the event is durable in Redis, so a sender that retries on
// failure loses nothing; 4xx with a reason (and a TH_ERR_ code) for bad credentials or a bad body.

import { randomUUID } from 'node:crypto';
import { type CloudEventV1, HTTP } from 'cloudevents';
import type { EventInput } from '../../src/envelope/event.ts';
import { isJsonContentType } from '../../src/envelope/event.ts';
import { decodeHeaderValue } from '../../src/envelope/header-encoding.ts';
import { eventId } from '../../src/envelope/ids.ts';
import { HubError } from '../../src/errors.ts';
import { bearerToken, safeEqual } from '../../src/security/compare.ts';
import { pushSensor } from '../../src/sensor/push-sensor.ts';
import type { Sensor, SensorContext, WebhookRequest, WebhookResponse } from '../../src/sensor/sensor.ts';
import { resolveSecret } from '../../src/trigger/secret-ref.ts';
import { hmacSignature } from './auth.ts';
import type { WebhookSpec } from './spec.ts';

/** `webhook/<delivery id>`: the sender's own delivery id, or a random one. */
export const webhookEventId = (deliveryId: string) => eventId('webhook', deliveryId);

const defaultIdHeaders = ['idempotency-key', 'x-github-delivery', 'x-request-id'];

function header(request: WebhookRequest, name: string): string | undefined {
  const value = request.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Structured and batch mode are told by the content type alone, whatever ce-* headers come along: the
 * same rule (and the same case-sensitive prefix) as the cloudevents package's HTTP.toEvent, so the hub
 * checks the attributes of the very events the package then reads.
 */
function isStructured(request: WebhookRequest): boolean {
  return (header(request, 'content-type') ?? '').startsWith('application/cloudevents');
}

function isCloudEvent(request: WebhookRequest): boolean {
  return header(request, 'ce-specversion') !== undefined || isStructured(request);
}

/** An incoming CloudEvent keeps its attributes; JSON data stays JSON (cloudevents hands binary-mode data as bytes). */
function fromCloudEvent(event: CloudEventV1<unknown>, binary: boolean): EventInput {
  const input: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(event)) {
    if (value === undefined || key === 'data' || key === 'data_base64') continue;
    input[key] = binary && typeof value === 'string' ? decodeHeaderValue(value) : value;
  }
  const { data } = event;
  if (Buffer.isBuffer(data) && isJsonContentType(event.datacontenttype))
    input.data = JSON.parse(data.toString('utf8'));
  else if (Buffer.isBuffer(data)) input.data_base64 = data.toString('base64');
  else if (data !== undefined) input.data = data;
  else if (event.data_base64 !== undefined) input.data_base64 = event.data_base64;
  return input as EventInput;
}

/**
 * The cloudevents package makes up a random id for an event without one (which would defeat de-duplication)
 * and does not insist on source and type, so the required attributes are checked here first.
 */
function requireAttributes(request: WebhookRequest, body: string | Buffer): void {
  const check = (attributes: Record<string, unknown>, where: string) => {
    if (attributes.specversion !== '1.0')
      throw new Error(`${where}specversion must be "1.0", got ${JSON.stringify(attributes.specversion)}`);
    for (const name of ['id', 'source', 'type']) {
      if (typeof attributes[name] !== 'string' || attributes[name] === '')
        throw new Error(`${where}the required attribute "${name}" is missing or empty`);
    }
  };
  if (typeof body !== 'string') {
    check(
      {
        specversion: header(request, 'ce-specversion'),
        id: header(request, 'ce-id'),
        source: header(request, 'ce-source'),
        type: header(request, 'ce-type'),
      },
      '',
    );
    return;
  }
  const parsed: unknown = JSON.parse(body);
  const batch = (header(request, 'content-type') ?? '').startsWith('application/cloudevents-batch');
  const events = batch ? parsed : [parsed];
  if (!Array.isArray(events)) throw new Error('a CloudEvents batch must be a JSON array');
  events.forEach((event, index) => {
    if (event === null || typeof event !== 'object' || Array.isArray(event))
      throw new Error(`${batch ? `event ${index}: ` : ''}a CloudEvent must be a JSON object`);
    check(event as Record<string, unknown>, batch ? `event ${index}: ` : '');
  });
}

export function createWebhookSensor(spec: WebhookSpec, context: SensorContext): Sensor {
  const { trigger, emit } = context;
  // Resolved once at start: a missing secret is a Trigger error, not a per-request surprise.
  const bearer = spec.auth?.bearer ? resolveSecret(spec.auth.bearer) : undefined;
  const hmac = spec.auth?.hmac ? { ...spec.auth.hmac, key: resolveSecret(spec.auth.hmac.secret) } : undefined;
  const source = `/triggerhub/webhook/${trigger.key}`;

  function authorize(request: WebhookRequest): void {
    if (bearer !== undefined) {
      const token = bearerToken(header(request, 'authorization'));
      if (token === undefined || !safeEqual(token, bearer))
        throw new HubError('TH_ERR_UNAUTHORIZED', 'missing or wrong bearer token');
    }
    if (hmac !== undefined) {
      const signature = header(request, hmac.header);
      const expected = hmac.prefix + hmacSignature(hmac.algorithm, hmac.key, request.body);
      if (signature === undefined || !safeEqual(signature, expected))
        throw new HubError('TH_ERR_UNAUTHORIZED', `missing or wrong signature in ${hmac.header}`);
    }
  }

  function deliveryId(request: WebhookRequest): string {
    const names = spec.idHeader ? [spec.idHeader] : defaultIdHeaders;
    for (const name of names) {
      const value = header(request, name);
      if (value) return webhookEventId(value);
    }
    // No id from the sender: a re-sent request cannot be recognized, so it may be delivered twice.
    return webhookEventId(randomUUID());
  }

  function toEvents(request: WebhookRequest): EventInput[] {
    if (isCloudEvent(request)) {
      try {
        // Structured and batch bodies are JSON text (cloudevents mis-reads them as bytes); binary-mode data stays bytes.
        // (A binary-mode check of the ce-* headers with a batch body let a JSON array through as "events"
        // made of its characters, with no type: BullMQ refused them and the sender got 503 forever.)
        const structured = isStructured(request);
        const body = structured ? request.body.toString('utf8') : request.body;
        requireAttributes(request, body);
        const parsed = HTTP.toEvent({ headers: request.headers, body });
        return (Array.isArray(parsed) ? parsed : [parsed]).map((event) => fromCloudEvent(event, !structured));
      } catch (error) {
        throw new HubError('TH_ERR_BAD_REQUEST', `not a valid CloudEvent: ${(error as Error).message}`);
      }
    }
    const contentType = header(request, 'content-type');
    const event: EventInput = {
      id: deliveryId(request),
      source,
      type: spec.eventType,
      ...(request.subpath ? { subject: request.subpath } : {}),
    };
    if (spec.body === 'json') {
      if (contentType && !isJsonContentType(contentType))
        throw new HubError(
          'TH_ERR_UNSUPPORTED_MEDIA',
          `expected a JSON body, got content-type ${contentType}`,
        );
      try {
        event.data = JSON.parse(request.body.toString('utf8'));
      } catch (error) {
        throw new HubError('TH_ERR_BAD_REQUEST', `body is not valid JSON: ${(error as Error).message}`);
      }
      event.datacontenttype = 'application/json';
    } else {
      event.datacontenttype = contentType ?? 'application/octet-stream';
      event.data_base64 = request.body.toString('base64');
    }
    return [event];
  }

  async function handle(request: WebhookRequest, received: () => void): Promise<WebhookResponse> {
    if (request.method !== 'POST' && request.method !== 'PUT')
      throw new HubError('TH_ERR_BAD_REQUEST', `method ${request.method} not allowed; use POST`);
    authorize(request);
    const events = toEvents(request);
    const result = await emit(events);
    received();
    return { status: 202, body: { ...result, ids: events.map((event) => event.id) } };
  }

  return pushSensor(context, { path: spec.path, bodyLimitBytes: spec.maxBodyBytes }, handle);
}
