// The webhook source's answers, through the SensorContext it is handed (no server): who may post (bearer
// token, HMAC of the raw body), which id a delivery gets, which bodies are refused, and that it answers only
// once the emit has resolved.

import { describe, expect, it } from 'vitest';
import type { Emit, EmitResult, WebhookRequest } from '../../src/sensor/sensor.ts';
import { postRequest, recordingEmit, unitContext } from '../../test/support/sensor-context.ts';
import { hmacSignature } from './auth.ts';
import { createWebhookSensor } from './sensor.ts';
import { webhookSpec } from './spec.ts';

process.env.TH_UNIT_WEBHOOK_TOKEN = 'token-0123456789';
process.env.TH_UNIT_WEBHOOK_HMAC = 'hmac-key';

async function handlerFor(spec: Record<string, unknown>, emit: Emit) {
  const { context, handler, path } = unitContext(emit, 'github');
  await createWebhookSensor(webhookSpec.parse(spec), context).start();
  return { handle: handler(), path: path() };
}

const json = (body: unknown, headers: WebhookRequest['headers'] = {}) =>
  postRequest(JSON.stringify(body), { 'content-type': 'application/json', ...headers });

describe('webhook auth', () => {
  it('hmacSignature is the hex HMAC of the raw body (RFC 4231-style known answer)', () => {
    const body = Buffer.from('The quick brown fox jumps over the lazy dog');
    expect(hmacSignature('sha256', 'key', body)).toBe(
      'f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8',
    );
    expect(hmacSignature('sha1', 'key', body)).toBe('de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9');
  });

  it('bearer: a missing or wrong token is 401 and emits nothing; the right one is accepted', async () => {
    const { batches, emit } = recordingEmit();
    const { handle } = await handlerFor({ auth: { bearer: { env: 'TH_UNIT_WEBHOOK_TOKEN' } } }, emit);
    await expect(handle(json({ a: 1 }))).rejects.toMatchObject({ status: 401, code: 'TH_ERR_UNAUTHORIZED' });
    await expect(handle(json({ a: 1 }, { authorization: 'Bearer token-0123456788' }))).rejects.toMatchObject({
      status: 401,
    });
    await expect(handle(json({ a: 1 }, { authorization: 'token-0123456789' }))).rejects.toMatchObject({
      status: 401,
    });
    expect(batches).toHaveLength(0);
    const ok = await handle(json({ a: 1 }, { authorization: 'Bearer token-0123456789' }));
    expect(ok.status).toBe(202);
    expect(batches.flat()).toHaveLength(1);
  });

  it('hmac: the signature of the exact body bytes, with its prefix, in the configured header', async () => {
    const { batches, emit } = recordingEmit();
    const auth = { hmac: { secret: { env: 'TH_UNIT_WEBHOOK_HMAC' } } };
    const { handle } = await handlerFor({ auth }, emit);
    const body = '{"action":"opened"}';
    const signature = `sha256=${hmacSignature('sha256', 'hmac-key', Buffer.from(body))}`;
    const signed = (text: string, value: string) =>
      postRequest(text, { 'content-type': 'application/json', 'x-hub-signature-256': value });
    expect((await handle(signed(body, signature))).status).toBe(202);
    // The same JSON with other bytes (a space) is another body: its signature does not match.
    await expect(handle(signed('{"action": "opened"}', signature))).rejects.toMatchObject({
      status: 401,
      code: 'TH_ERR_UNAUTHORIZED',
    });
    await expect(handle(signed(body, signature.slice('sha256='.length)))).rejects.toMatchObject({
      status: 401,
    });
    await expect(handle(json({ action: 'opened' }))).rejects.toMatchObject({ status: 401 });
    expect(batches).toHaveLength(1);
  });

  it('hmac: another algorithm, header and prefix as configured', async () => {
    const { emit } = recordingEmit();
    const auth = {
      hmac: { secret: { env: 'TH_UNIT_WEBHOOK_HMAC' }, algorithm: 'sha1', header: 'X-Signature', prefix: '' },
    };
    const { handle } = await handlerFor({ auth }, emit);
    const body = '{"n":1}';
    const headers = {
      'content-type': 'application/json',
      'x-signature': hmacSignature('sha1', 'hmac-key', Buffer.from(body)),
    };
    expect((await handle(postRequest(body, headers))).status).toBe(202);
    const sha256 = { ...headers, 'x-signature': hmacSignature('sha256', 'hmac-key', Buffer.from(body)) };
    await expect(handle(postRequest(body, sha256))).rejects.toMatchObject({ status: 401 });
  });
});

describe('the webhook sensor', () => {
  it('registers its path (default namespace/name) and answers 202 only once the emit has resolved', async () => {
    let release: (result: EmitResult) => void = () => {};
    const { handle, path } = await handlerFor({}, () => new Promise((resolve) => (release = resolve)));
    expect(path).toBe('default/github');
    let answered = false;
    const answer = handle(json({ a: 1 }, { 'idempotency-key': 'd-1' })).then((response) => {
      answered = true;
      return response;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(answered).toBe(false);
    release({ enqueued: 1, filtered: 0 });
    expect(await answer).toEqual({ status: 202, body: { enqueued: 1, filtered: 0, ids: ['webhook/d-1'] } });
  });

  it("takes the event id from the sender's delivery id, so a re-sent delivery gets the same id", async () => {
    const { batches, emit } = recordingEmit();
    const { handle } = await handlerFor({}, emit);
    await handle(json({ a: 1 }, { 'x-github-delivery': 'gh-42' }));
    await handle(json({ a: 1 }, { 'x-github-delivery': 'gh-42' }));
    const custom = await handlerFor({ idHeader: 'X-Delivery' }, emit);
    await custom.handle(json({ a: 1 }, { 'x-delivery': 'own-7', 'idempotency-key': 'ignored' }));
    expect(batches.flat().map((event) => event.id)).toEqual([
      'webhook/gh-42',
      'webhook/gh-42',
      'webhook/own-7',
    ]);
    expect(batches[0]![0]).toMatchObject({
      source: '/triggerhub/webhook/default/github',
      type: 'io.triggerhub.webhook',
      datacontenttype: 'application/json',
      data: { a: 1 },
    });
  });

  it('refuses other methods, bodies that are not JSON, and non-JSON content types, emitting nothing', async () => {
    const { batches, emit } = recordingEmit();
    const { handle } = await handlerFor({}, emit);
    await expect(handle({ ...json({}), method: 'GET' })).rejects.toMatchObject({
      code: 'TH_ERR_BAD_REQUEST',
    });
    await expect(handle(postRequest('{"a":', { 'content-type': 'application/json' }))).rejects.toMatchObject({
      status: 400,
      code: 'TH_ERR_BAD_REQUEST',
    });
    await expect(handle(postRequest('a=1', { 'content-type': 'text/plain' }))).rejects.toMatchObject({
      status: 415,
      code: 'TH_ERR_UNSUPPORTED_MEDIA',
    });
    expect(batches).toHaveLength(0);
  });

  it('raw bodies are delivered as they came, with their content type', async () => {
    const { batches, emit } = recordingEmit();
    const { handle } = await handlerFor({ body: 'raw' }, emit);
    await handle(postRequest('a=1&b=2', { 'content-type': 'application/x-www-form-urlencoded' }));
    expect(batches[0]![0]).toMatchObject({
      datacontenttype: 'application/x-www-form-urlencoded',
      data_base64: Buffer.from('a=1&b=2').toString('base64'),
    });
  });
});
