// Fuzz over real HTTP: random bodies, content types, CloudEvents headers (binary and structured mode),
// methods, credentials and MinIO notifications sent to a real hub on the real Redis. Every answer is a
// 2xx with the ids or a 4xx with a TH_ERR_* code and a reason, never a 5xx or a dropped connection; no
// promise rejection goes unhandled; what was accepted is delivered with its body intact, and every
// unreadable MinIO record is in the dead-letter queue with its reason.

import { Readable } from 'node:stream';
import fc from 'fast-check';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isUnreadable, readRecord } from '../../../sensors/minio/payload.ts';
import { isJsonContentType } from '../../../src/envelope/event.ts';
import type { Hub } from '../../../src/hub.ts';
import { listDeadLetters } from '../../../src/queue/dead-letter.ts';
import { fuzzTally, fuzzTimeout, watchUnhandledRejections } from '../../support/fuzz.ts';
import { startTestHub, triggerDoc, uniqueNamespace } from '../../support/hub.ts';
import { type Sink, startSink } from '../../support/sink.ts';

const tally = fuzzTally('webhook and MinIO requests over HTTP');
const token = 'fuzz-webhook-token-7f3a';
const minioToken = 'fuzz-minio-token-91c2';

/** Printable ASCII: what a header value can carry through undici and Node's parser. */
const headerText = (maxLength = 24) =>
  fc
    .string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength })
    .map((s) => s.trim());

const contentType = fc.oneof(
  fc.constantFrom(
    'application/json',
    'application/json; charset=utf-8',
    'text/json',
    'application/vnd.api+json',
    'application/cloudevents+json',
    'application/cloudevents-batch+json',
    'text/plain',
    'application/octet-stream',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    ';;',
  ),
  headerText(30),
);

const ceEvent = fc.record(
  {
    specversion: fc.oneof(fc.constant('1.0'), fc.constant('0.3'), fc.jsonValue({ maxDepth: 0 })),
    id: fc.oneof(
      headerText(16).filter((s) => s !== ''),
      fc.jsonValue({ maxDepth: 0 }),
    ),
    source: fc.oneof(fc.constant('/fuzz'), fc.jsonValue({ maxDepth: 0 })),
    type: fc.oneof(fc.constant('io.fuzz'), fc.string({ maxLength: 8 })),
    subject: fc.string({ maxLength: 10 }),
    time: fc.oneof(fc.constant('2026-11-29T10:00:00Z'), fc.string({ maxLength: 10 })),
    datacontenttype: fc.constantFrom('application/json', 'text/plain'),
    data: fc.jsonValue({ maxDepth: 2 }),
    data_base64: fc.constant('AAEC'),
    tenant: fc.oneof(fc.string({ maxLength: 6 }), fc.integer()),
  },
  { requiredKeys: [] },
);

const body = fc.oneof(
  fc.constant(Buffer.alloc(0)),
  fc.uint8Array({ maxLength: 120 }).map((bytes) => Buffer.from(bytes)),
  fc.jsonValue({ maxDepth: 3 }).map((json) => Buffer.from(JSON.stringify(json))),
  fc.jsonValue({ maxDepth: 3 }).map((json) => Buffer.from(JSON.stringify(json).slice(1))),
  ceEvent.map((event) => Buffer.from(JSON.stringify(event))),
  fc.array(ceEvent, { maxLength: 3 }).map((events) => Buffer.from(JSON.stringify(events))),
);

/** Binary-mode CloudEvents headers, often incomplete or wrong. */
const ceHeaders = fc.record(
  {
    'ce-specversion': fc.constantFrom('1.0', '0.3', '', 'x'),
    'ce-id': headerText(16),
    'ce-source': headerText(16),
    'ce-type': headerText(16),
    'ce-subject': headerText(16),
    'ce-time': fc.oneof(fc.constant('2026-11-29T10:00:00Z'), headerText(10)),
    'ce-tenant': headerText(8),
    'ce-Bad_Name': headerText(8),
  },
  { requiredKeys: [] },
);

const webhookRequest = fc.record({
  route: fc.constantFrom('json', 'raw', 'small', 'guarded'),
  method: fc.constantFrom('POST', 'POST', 'POST', 'PUT', 'PATCH', 'DELETE'),
  contentType: fc.option(contentType, { nil: undefined }),
  ce: fc.option(ceHeaders, { nil: undefined, freq: 3 }),
  authorization: fc.option(
    fc.oneof(fc.constant(`Bearer ${token}`), fc.constant('Bearer nope'), headerText(20)),
    {
      nil: undefined,
    },
  ),
  body,
});

/** type/subtype (RFC 9110 tokens), then any parameters: what a body's content-type must look like. */
const mediaType = /^[\w!#$%&'*+.^`|~-]+\/[\w!#$%&'*+.^`|~-]+\s*(;.*)?$/;

type Answer = { status: number; json: Record<string, unknown> };

describe('fuzz: requests over real HTTP to a real hub', { timeout: fuzzTimeout(300_000) }, () => {
  let hub: Hub;
  let sink: Sink;
  let pool: Pool;
  const ns = uniqueNamespace('fuzz-http');
  const rejections = watchUnhandledRejections();
  /** Accepted plain events by id, with what the function must receive. */
  const accepted = new Map<string, { body: Buffer; json: boolean; contentType: string | undefined }>();
  let sequence = 0;
  /** Unreadable MinIO records sent, by event id, with the reason the dead-letter entry must give. */
  const unreadable = new Map<string, string>();

  beforeAll(async () => {
    process.env.TH_FUZZ_WEBHOOK_TOKEN = token;
    process.env.TH_FUZZ_MINIO_TOKEN = minioToken;
    sink = await startSink();
    const target = { http: { url: sink.url } };
    const delivery = { retries: 1, backoff: { initialMs: 50, maxMs: 200 } };
    hub = await startTestHub([
      triggerDoc(ns, 'json', { source: { webhook: {} }, target, delivery }),
      triggerDoc(ns, 'raw', { source: { webhook: { body: 'raw' } }, target, delivery }),
      triggerDoc(ns, 'small', { source: { webhook: { maxBodyBytes: 64 } }, target, delivery }),
      triggerDoc(ns, 'guarded', {
        source: { webhook: { auth: { bearer: { env: 'TH_FUZZ_WEBHOOK_TOKEN' } } } },
        target,
        delivery,
      }),
      triggerDoc(ns, 'minio', {
        source: { minio: { authToken: { env: 'TH_FUZZ_MINIO_TOKEN' } } },
        target,
        delivery,
      }),
    ]);
    pool = new Pool(hub.url, { connections: 8 });
  });

  afterAll(async () => {
    await pool?.close();
    await hub?.close();
    await sink?.close();
    rejections.stop();
  });

  async function send(
    path: string,
    method: string,
    headers: Record<string, string>,
    payload: Buffer,
  ): Promise<Answer> {
    const response = await pool.request({
      method,
      path,
      headers,
      body: payload.length ? payload : undefined,
    });
    const text = await response.body.text();
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(text);
    } catch {
      json = { unparsed: text };
    }
    return { status: response.statusCode, json };
  }

  function expectWellFormed(answer: Answer): void {
    expect(answer.status, JSON.stringify(answer.json)).toBeLessThan(500);
    if (answer.status >= 400) {
      expect(answer.json.code).toMatch(/^TH_ERR_[A-Z_]+$/);
      expect(typeof answer.json.message).toBe('string');
      expect(answer.json.message).not.toBe('');
    } else {
      expect([200, 202]).toContain(answer.status);
      expect(Array.isArray(answer.json.ids)).toBe(true);
    }
  }

  it('webhooks answer every request with ids or a 4xx and a code, as the request deserves', async () => {
    await tally.check(
      fc.asyncProperty(webhookRequest, async (request) => {
        const id = `fz-${++sequence}`;
        const headers: Record<string, string> = { 'idempotency-key': id, ...(request.ce ?? {}) };
        if (request.contentType !== undefined) headers['content-type'] = request.contentType;
        if (request.authorization !== undefined) headers.authorization = request.authorization;
        const answer = await send(`/webhooks/${ns}/${request.route}`, request.method, headers, request.body);
        expectWellFormed(answer);
        const why = JSON.stringify(answer.json);

        const contentTypeValue = request.contentType;
        const cloudEvent =
          request.ce?.['ce-specversion'] !== undefined ||
          (contentTypeValue ?? '').startsWith('application/cloudevents');
        // The oracle, in the order the hub checks: size, media type syntax (while parsing), method,
        // credentials, then the body.
        if (request.route === 'small' && request.body.length > 64)
          return void expect(answer.status, why).toBe(413);
        if (contentTypeValue !== undefined && !mediaType.test(contentTypeValue)) {
          expect(answer.status, why).toBe(415);
          return void expect(answer.json.message).toContain('is not a media type');
        }
        if (request.method !== 'POST' && request.method !== 'PUT')
          return void expect(answer.status, why).toBe(400);
        if (request.route === 'guarded' && request.authorization !== `Bearer ${token}`)
          return void expect(answer.status, why).toBe(401);
        if (cloudEvent) return void expect([202, 400], why).toContain(answer.status);
        if (request.route === 'raw') {
          expect(answer.status, why).toBe(202);
          accepted.set(`webhook/${id}`, { body: request.body, json: false, contentType: contentTypeValue });
          return;
        }
        if (contentTypeValue && !isJsonContentType(contentTypeValue))
          return void expect(answer.status, why).toBe(415);
        let parses = true;
        try {
          JSON.parse(request.body.toString('utf8'));
        } catch {
          parses = false;
        }
        expect(answer.status, why).toBe(parses ? 202 : 400);
        if (parses)
          accepted.set(`webhook/${id}`, { body: request.body, json: true, contentType: contentTypeValue });
      }),
      { numRuns: 800 },
    );
  });

  it('MinIO routes answer 401/403 without the token, 400 for non-notifications, 200 for notifications', async () => {
    const record = fc.oneof(
      fc.record({
        eventName: fc.constantFrom('s3:ObjectCreated:Put', 's3:ObjectRemoved:Delete'),
        eventTime: fc.constant('2026-11-29T10:00:00.000Z'),
        s3: fc.record({
          bucket: fc.record({ name: fc.string({ minLength: 1, maxLength: 8 }) }),
          object: fc.record({
            key: fc.string({ minLength: 1, maxLength: 12 }),
            sequencer: fc.string({
              unit: fc.constantFrom(...'0123456789ABCDEF'),
              minLength: 16,
              maxLength: 16,
            }),
          }),
        }),
      }),
      fc.jsonValue({ maxDepth: 3 }),
    );
    const notification = fc.oneof(
      fc
        .array(record, { minLength: 1, maxLength: 4 })
        .map((records) => Buffer.from(JSON.stringify({ EventName: 'x', Records: records }))),
      body,
    );
    const minioRequest = fc.record({
      authorization: fc.constantFrom(
        `Bearer ${minioToken}`,
        `Bearer ${minioToken}`,
        `Bearer ${minioToken}`,
        'Bearer wrong',
        undefined,
      ),
      method: fc.constantFrom('POST', 'POST', 'POST', 'PUT', 'HEAD'),
      body: notification,
    });
    await tally.check(
      fc.asyncProperty(minioRequest, async (request) => {
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (request.authorization) headers.authorization = request.authorization;
        const payload = request.method === 'HEAD' ? Buffer.alloc(0) : request.body;
        const response = await pool.request({
          method: request.method,
          path: `/webhooks/${ns}/minio`,
          headers,
          body: payload.length ? payload : undefined,
        });
        const text = await response.body.text();
        if (request.method === 'HEAD') return void expect(response.statusCode).toBe(200);
        const answer = { status: response.statusCode, json: JSON.parse(text) as Record<string, unknown> };
        expectWellFormed(answer);
        if (request.method !== 'POST') return void expect(answer.status, text).toBe(400);
        if (request.authorization === undefined) return void expect(answer.status, text).toBe(401);
        if (request.authorization === 'Bearer wrong') return void expect(answer.status, text).toBe(403);
        let records: unknown[] | undefined;
        try {
          const parsed = JSON.parse(payload.toString('utf8'));
          if (parsed && typeof parsed === 'object' && !Array.isArray(parsed) && Array.isArray(parsed.Records))
            records = parsed.Records;
        } catch {}
        expect(answer.status).toBe(records ? 200 : 400);
        for (const item of records ?? []) {
          const read = readRecord(item);
          if (isUnreadable(read)) unreadable.set(read.id, read.reason);
        }
      }),
      { numRuns: 300 },
    );
  });
  it('odd paths and methods get a 4xx with a code', async () => {
    const path = fc.oneof(
      fc.constantFrom(
        '/webhooks/',
        '/webhooks',
        `/webhooks/${ns}`,
        `/webhooks/${ns}/json/extra/sub`,
        '/webhooks/%ff',
        '/webhooks/..%2f..%2fapi',
        `/webhooks/${ns}//json`,
      ),
      fc.webPath().map((p) => `/webhooks${p}`),
    );
    await tally.check(
      fc.asyncProperty(path, fc.constantFrom('POST', 'GET', 'OPTIONS', 'DELETE'), async (url, method) => {
        const response = await pool.request({
          method,
          path: url,
          headers: { 'content-type': 'application/json' },
          body: method === 'POST' ? '{}' : undefined,
        });
        const text = await response.body.text();
        expect(response.statusCode, text).toBeLessThan(500);
        if (response.statusCode >= 400) expect(text).toMatch(/"code":"TH_ERR_[A-Z_]+"/);
      }),
      { numRuns: 200 },
    );
  });

  it('API and dashboard list routes answer any offset/limit and replay body with data or a 400 naming the field', async () => {
    const param = fc.oneof(
      fc.nat(2000).map(String),
      fc.integer({ min: -5, max: -1 }).map(String),
      fc.constantFrom('1.5', 'abc', '', '1e3', '0x10', ' 7', 'NaN', '99999999999999999999'),
    );
    const replayBody = fc.oneof(
      fc.jsonValue({ maxDepth: 2 }).map((json) => JSON.stringify(json)),
      fc.string({ maxLength: 20 }),
      fc.constantFrom('{"where":"(("}', '{"jobIds":[1]}', '{"where":"event.data.x == 1"}'),
    );
    await tally.check(
      fc.asyncProperty(
        fc.option(param, { nil: undefined }),
        fc.option(param, { nil: undefined }),
        replayBody,
        async (offset, limit, replay) => {
          const query = new URLSearchParams({
            ...(offset === undefined ? {} : { offset }),
            ...(limit === undefined ? {} : { limit }),
          });
          for (const route of [`/api/dlq/${ns}/json`, `/dashboard/api/triggers/${ns}/json`]) {
            const answer = await send(`${route}?${query}`, 'GET', {}, Buffer.alloc(0));
            expect(answer.status, JSON.stringify(answer.json)).toBeLessThan(500);
            const valid = (raw: string | undefined, min: number) =>
              raw === undefined || raw === '' || (Number.isSafeInteger(Number(raw)) && Number(raw) >= min);
            if (valid(offset, 0) && valid(limit, 1)) expect(answer.status).toBe(200);
            else
              expect(answer.json).toMatchObject({
                code: 'TH_ERR_BAD_REQUEST',
                message: expect.stringMatching(/^(offset|limit) must be/),
              });
          }
          const replayed = await send(
            `/api/dlq/${ns}/json/replay`,
            'POST',
            { 'content-type': 'application/json' },
            Buffer.from(replay),
          );
          expect(replayed.status, JSON.stringify(replayed.json)).toBeLessThan(500);
          if (replayed.status >= 400) expect(replayed.json.code).toMatch(/^TH_ERR_/);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('a chunked body (no Content-Length) over the trigger limit is refused with 413 and the limit', async () => {
    async function* chunks() {
      for (let i = 0; i < 10; i++) yield Buffer.from(`{"chunk":${i}}`.padEnd(20, ' '));
    }
    const response = await pool.request({
      method: 'POST',
      path: `/webhooks/${ns}/small`,
      headers: { 'content-type': 'application/json' },
      body: Readable.from(chunks()),
    });
    expect(response.statusCode).toBe(413);
    expect(await response.body.json()).toMatchObject({
      code: 'TH_ERR_PAYLOAD_TOO_LARGE',
      message: expect.stringContaining('64 bytes'),
    });
    tally.add(1);
  });

  it('a batch body with binary-mode ce-* headers is read as the batch its content type says (found by this fuzz)', async () => {
    const headers = {
      'content-type': 'application/cloudevents-batch+json',
      'ce-specversion': '1.0',
      'ce-id': 'hdr',
      'ce-source': '/fuzz',
      'ce-type': 'io.fuzz',
    };
    const garbage = await send(`/webhooks/${ns}/json`, 'POST', headers, Buffer.from('["a", null]'));
    expect(garbage.status).toBe(400);
    expect(garbage.json).toMatchObject({
      code: 'TH_ERR_BAD_REQUEST',
      message: expect.stringMatching(/CloudEvent/),
    });
    const batch = [
      { specversion: '1.0', id: 'fz-batch-1', source: '/fuzz', type: 'io.fuzz', data: { n: 1 } },
    ];
    const good = await send(`/webhooks/${ns}/json`, 'POST', headers, Buffer.from(JSON.stringify(batch)));
    expect(good).toMatchObject({ status: 202, json: { ids: ['fz-batch-1'] } });
    tally.add(2);
  });

  it('what was accepted is delivered intact; unreadable MinIO records are dead-lettered with their reason; no rejection went unhandled', async () => {
    expect(accepted.size).toBeGreaterThan(25);
    await sink
      .waitFor(() => [...accepted.keys()].every((id) => sink.delivered.has(id)), 60_000, 'accepted events')
      .catch(async (error: Error) => {
        // Say which events and why: their dead-letter entries hold the last attempt.
        const missing = [...accepted].filter(([id]) => !sink.delivered.has(id));
        const dead: Awaited<ReturnType<typeof listDeadLetters>> = [];
        for (const name of ['json', 'raw', 'guarded'])
          dead.push(...(await listDeadLetters(hub.engine.get(`${ns}/${name}`)!.running!.queue.queue)));
        const detail = missing.map(([id, sent]) => ({
          id,
          contentType: sent.contentType,
          deadLetter: dead.find((entry) => entry.event.id === id)?.reason,
        }));
        throw new Error(`${error.message}: ${JSON.stringify(detail).slice(0, 2000)}`);
      });
    for (const [id, sent] of accepted) {
      const got = sink.received.find((entry) => entry.id === id)!;
      if (sent.json)
        expect(JSON.parse(got.body.toString('utf8'))).toEqual(JSON.parse(sent.body.toString('utf8')));
      else {
        expect(got.body.equals(sent.body)).toBe(true);
        expect(got.headers['content-type']).toBe(sent.contentType ?? 'application/octet-stream');
      }
    }
    const queue = hub.engine.get(`${ns}/minio`)!.running!.queue.queue;
    const deadline = Date.now() + 60_000;
    let entries = await listDeadLetters(queue, { limit: 10_000 });
    while (entries.length < unreadable.size && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      entries = await listDeadLetters(queue, { limit: 10_000 });
    }
    const reasons = new Map(entries.map((entry) => [entry.event.id, entry.reason]));
    for (const [id, reason] of unreadable) expect(reasons.get(id)).toBe(`TH_ERR_POISON_EVENT: ${reason}`);
    expect(rejections.reasons).toEqual([]);
  });
});
