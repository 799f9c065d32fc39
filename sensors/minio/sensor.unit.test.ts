// The sensor's answers, through the SensorContext it is handed (no server: the context's emit is the seam).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { EventInput } from '../../src/envelope/event.ts';
import { HubError } from '../../src/errors.ts';
import type {
  Emit,
  EmitResult,
  SensorContext,
  WebhookHandler,
  WebhookRequest,
} from '../../src/sensor/sensor.ts';
import { sensorContext } from '../../test/support/sensor-context.ts';
import { createMinioSensor } from './sensor.ts';
import { minioSpec } from './spec.ts';

const fixture = (name: string) =>
  readFileSync(join(import.meta.dirname, '../../fixtures/minio', `${name}.json`));

async function sensorWith(source: Record<string, unknown>, emit: Emit) {
  let handler: WebhookHandler | undefined;
  const context: SensorContext = sensorContext({
    trigger: { namespace: 'default', name: 'objects', key: 'default/objects' },
    emit,
    log: pino({ level: 'silent' }),
    webhooks: {
      register: (_path, registered) => {
        handler = registered;
        return () => {};
      },
    },
    state: { redis: undefined as unknown as Redis, key: (...parts) => parts.join(':') },
    signal: new AbortController().signal,
  });
  process.env.TH_UNIT_MINIO_TOKEN = 'secret-token';
  const sensor = createMinioSensor(
    minioSpec.parse({ authToken: { env: 'TH_UNIT_MINIO_TOKEN' }, ...source }),
    context,
  );
  await sensor.start();
  return handler!;
}

function post(body: Buffer | string, token = 'secret-token'): WebhookRequest {
  return {
    method: 'POST',
    subpath: '',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    query: {},
    body: Buffer.from(body),
  };
}

const recording = () => {
  const batches: EventInput[][] = [];
  const emit: Emit = async (events) => {
    batches.push(events);
    return { enqueued: events.length, filtered: 0 };
  };
  return { batches, emit };
};

describe('the MinIO sensor', () => {
  it('answers only once the emit has resolved (the records are durable)', async () => {
    let release: (result: EmitResult) => void = () => {};
    const handle = await sensorWith({}, () => new Promise((resolve) => (release = resolve)));
    let answered = false;
    const answer = handle(post(fixture('put-xml'))).then((response) => {
      answered = true;
      return response;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(answered).toBe(false);
    release({ enqueued: 1, filtered: 0 });
    expect((await answer).status).toBe(200);
  });

  it('passes a queue outage on as the 503 error, so MinIO keeps the notification', async () => {
    const handle = await sensorWith({}, async () => {
      throw new HubError('TH_ERR_QUEUE_UNAVAILABLE', 'Redis is away');
    });
    await expect(handle(post(fixture('put-xml')))).rejects.toMatchObject({ status: 503 });
  });

  it('emits one event per record: subject bucket/decoded key, data the record as sent, type from the event name', async () => {
    const { batches, emit } = recording();
    const handle = await sensorWith({}, emit);
    await handle(post(fixture('put-unicode-plus-percent-space-key')));
    const [event] = batches[0]!;
    const record = JSON.parse(fixture('put-unicode-plus-percent-space-key').toString('utf8')).Records[0];
    expect(event).toMatchObject({
      subject: 'fixtures/données/été 2026+x%.csv',
      type: 'io.triggerhub.minio.ObjectCreated.Put',
      source: '/triggerhub/minio/default/objects',
      time: record.eventTime,
      datacontenttype: 'application/json',
      bucket: 'fixtures',
      data: record,
    });
  });

  it('skips records its filters do not keep, acknowledging them without an emit', async () => {
    const { batches, emit } = recording();
    const handle = await sensorWith({ bucket: 'fixtures', suffix: '.xml', events: ['put'] }, emit);
    const answers = await Promise.all(
      ['put-xml', 'put-unicode-plus-percent-space-key', 'copy', 'delete', 'complete-multipart-upload'].map(
        (name) => handle(post(fixture(name))),
      ),
    );
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200, 200]);
    expect(batches.flat().map((event) => event.subject)).toEqual([
      'fixtures/invoices/2026/inv-0001.xml',
      'fixtures/invoices/copy of inv-0001.xml',
    ]);
    expect(answers[1]!.body).toMatchObject({ enqueued: 0, skipped: 1 });
  });

  it('adds a presigned URL to created-object events only', async () => {
    const { batches, emit } = recording();
    process.env.TH_UNIT_MINIO_ACCESS = 'access';
    process.env.TH_UNIT_MINIO_SECRET = 'secret-secret';
    const presign = {
      endpoint: 'http://minio.example:9000',
      accessKey: { env: 'TH_UNIT_MINIO_ACCESS' },
      secretKey: { env: 'TH_UNIT_MINIO_SECRET' },
    };
    const handle = await sensorWith({ presign }, emit);
    await handle(post(fixture('put-unicode-plus-percent-space-key')));
    await handle(post(fixture('delete')));
    const [created, removed] = batches.flat();
    expect(created!.presignedurl).toMatch(
      /^http:\/\/minio\.example:9000\/fixtures\/donn%C3%A9es\/%C3%A9t%C3%A9%202026%2Bx%25\.csv\?X-Amz-Algorithm=/,
    );
    expect(removed!.presignedurl).toBeUndefined();
  });

  it('answers HEAD probes, refuses other methods, and tells a missing token (401) from a wrong one (403)', async () => {
    const { batches, emit } = recording();
    const handle = await sensorWith({}, emit);
    expect((await handle({ ...post(''), method: 'HEAD' })).status).toBe(200);
    await expect(handle({ ...post(''), method: 'GET' })).rejects.toMatchObject({ status: 400 });
    await expect(handle({ ...post(fixture('put-xml')), headers: {} })).rejects.toMatchObject({
      status: 401,
      code: 'TH_ERR_UNAUTHORIZED',
    });
    const wrong = handle(post(fixture('put-xml'), 'secret-tokem'));
    await expect(wrong).rejects.toMatchObject({ status: 403, code: 'TH_ERR_FORBIDDEN' });
    expect(JSON.stringify(await wrong.catch((error: Error) => error.message))).not.toContain('secret-tok');
    expect(batches).toHaveLength(0);
  });
});
