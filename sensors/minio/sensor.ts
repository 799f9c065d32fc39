// MinIO bucket notifications over MinIO's webhook target. MinIO keeps a notification (in its queue_dir)
// until the endpoint answers 2xx, so the answer is the acknowledgement: 2xx only once every record of the
// request is durable in Redis, 503 when Redis cannot take them (MinIO re-sends), 4xx with a reason for a
// bad token or a body that is not a notification.

import type { EventInput } from '../../src/envelope/event.ts';
import { HubError } from '../../src/errors.ts';
import { bearerToken, safeEqual } from '../../src/security/compare.ts';
import { pushSensor } from '../../src/sensor/push-sensor.ts';
import type { Sensor, SensorContext, WebhookRequest, WebhookResponse } from '../../src/sensor/sensor.ts';
import { resolveSecret } from '../../src/trigger/secret-ref.ts';
import { recordMatcher } from './match.ts';
import {
  isUnreadable,
  type MinioRecord,
  parseNotification,
  readRecord,
  type UnreadableRecord,
} from './payload.ts';
import { createPresigner, type Presigner } from './presign.ts';
import type { MinioSpec } from './spec.ts';

/** `s3:ObjectCreated:Put` → `io.triggerhub.minio.ObjectCreated.Put` (CloudEvents types are reverse-DNS). */
export function eventTypeOf(eventName: string): string {
  return `io.triggerhub.minio.${eventName.replace(/^s3:/, '').replaceAll(':', '.')}`;
}

function header(request: WebhookRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

export function createMinioSensor(spec: MinioSpec, context: SensorContext): Sensor {
  const { trigger, emit, log } = context;
  // Resolved once at start: a missing secret is a Trigger error, not a per-request surprise.
  const token = resolveSecret(spec.authToken);
  const presign: Presigner | undefined = spec.presign ? createPresigner(spec.presign) : undefined;
  const matches = recordMatcher(spec);
  const source = `/triggerhub/minio/${trigger.key}`;

  /** Throws 401 without a token and 403 with another one, as MinIO's log messages read them. */
  function authorize(request: WebhookRequest): void {
    const given = bearerToken(header(request, 'authorization'));
    if (given === undefined)
      throw new HubError(
        'TH_ERR_UNAUTHORIZED',
        'missing "Authorization: Bearer <token>" (the notify_webhook auth_token)',
      );
    if (!safeEqual(given, token))
      throw new HubError('TH_ERR_FORBIDDEN', 'wrong bearer token; check the notify_webhook auth_token');
  }

  async function toEvent(record: MinioRecord): Promise<EventInput> {
    const event: EventInput = {
      id: record.id,
      source,
      type: eventTypeOf(record.eventName),
      subject: `${record.bucket}/${record.key}`,
      datacontenttype: 'application/json',
      data: record.record,
      bucket: record.bucket,
      ...(record.eventTime ? { time: record.eventTime } : {}),
    };
    if (presign && record.eventName.startsWith('s3:ObjectCreated:'))
      event.presignedurl = await presign(record.bucket, record.key);
    return event;
  }

  function toPoisonEvent(record: UnreadableRecord): EventInput {
    return {
      id: record.id,
      source,
      type: 'io.triggerhub.minio.Unreadable',
      datacontenttype: 'application/json',
      data: record.record ?? null,
      poison: record.reason,
    };
  }

  async function handle(request: WebhookRequest, received: () => void): Promise<WebhookResponse> {
    // Liveness probes of older MinIO releases (HEAD on the endpoint): any answer means "up".
    if (request.method === 'HEAD') return { status: 200 };
    if (request.method !== 'POST')
      throw new HubError(
        'TH_ERR_BAD_REQUEST',
        `method ${request.method} not allowed; MinIO POSTs notifications`,
      );
    authorize(request);
    const records = parseNotification(request.body).map(readRecord);
    const events: EventInput[] = [];
    let skipped = 0;
    for (const record of records) {
      if (isUnreadable(record)) {
        log.warn({ reason: record.reason, id: record.id }, 'unreadable MinIO record; dead-lettering it');
        events.push(toPoisonEvent(record));
      } else if (matches(record)) events.push(await toEvent(record));
      else skipped++;
    }
    // One emit for the whole request: it resolves only when every record is durable, and rejects (503)
    // when Redis is away, so MinIO keeps the notification and sends it again.
    const result = events.length > 0 ? await emit(events) : { enqueued: 0, filtered: 0 };
    if (events.length > 0) received();
    return { status: 200, body: { ...result, skipped, ids: events.map((event) => event.id) } };
  }

  return pushSensor(context, { path: spec.path, bodyLimitBytes: spec.maxBodyBytes }, handle);
}
