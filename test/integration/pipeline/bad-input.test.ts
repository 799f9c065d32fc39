import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../../../src/hub.ts';
import {
  freePort,
  type HubProcess,
  spawnHub,
  startTestHub,
  triggerDoc,
  uniqueNamespace,
  writeTriggerDir,
} from '../../support/hub.ts';
import { post } from '../../support/post.ts';
import { type Sink, startSink } from '../../support/sink.ts';

describe('bad input never crashes the hub', () => {
  let sink: Sink;
  let hub: Hub;
  const ns = uniqueNamespace('bad');

  beforeAll(async () => {
    process.env.TH_TEST_WEBHOOK_TOKEN = 's3cret-token';
    sink = await startSink();
    hub = await startTestHub([
      triggerDoc(ns, 'json', {
        source: { webhook: { maxBodyBytes: 1_048_576 } },
        target: { http: { url: sink.url } },
      }),
      triggerDoc(ns, 'raw', { source: { webhook: { body: 'raw' } }, target: { http: { url: sink.url } } }),
      triggerDoc(ns, 'guarded', {
        source: { webhook: { auth: { bearer: { env: 'TH_TEST_WEBHOOK_TOKEN' } } } },
        target: { http: { url: sink.url } },
      }),
      triggerDoc(ns, 'signed', {
        source: { webhook: { auth: { hmac: { secret: { env: 'TH_TEST_WEBHOOK_TOKEN' } } } } },
        target: { http: { url: sink.url } },
      }),
    ]);
  });

  afterAll(async () => {
    await hub?.close();
    await sink?.close();
  });

  it('answers 400 with the reason for a non-JSON body to a JSON webhook, and enqueues nothing', async () => {
    const answer = await post(`${hub.url}/webhooks/${ns}/json`, '{"unterminated": ');
    expect(answer.status).toBe(400);
    expect(answer.json()).toMatchObject({
      code: 'TH_ERR_BAD_REQUEST',
      message: expect.stringMatching(/not valid JSON/),
    });
  });

  it('answers 413 for a 10 MB body', async () => {
    const answer = await post(`${hub.url}/webhooks/${ns}/json`, Buffer.alloc(10 * 1024 * 1024, 'a'));
    expect(answer.status).toBe(413);
    expect(answer.json()).toMatchObject({ code: 'TH_ERR_PAYLOAD_TOO_LARGE' });
  });

  it('answers 404 for a path no trigger listens on', async () => {
    expect((await post(`${hub.url}/webhooks/${ns}/nobody`, '{}')).status).toBe(404);
  });

  it('rejects a missing or wrong bearer token with 401 and accepts the right one', async () => {
    const url = `${hub.url}/webhooks/${ns}/guarded`;
    expect((await post(url, '{}')).status).toBe(401);
    expect(
      (await post(url, '{}', { 'content-type': 'application/json', authorization: 'Bearer nope' })).status,
    ).toBe(401);
    const ok = await post(url, '{}', {
      'content-type': 'application/json',
      authorization: 'Bearer s3cret-token',
    });
    expect(ok.status).toBe(202);
    expect(ok.body).not.toContain('s3cret');
  });

  it('checks an HMAC signature over the raw body', async () => {
    const { createHmac } = await import('node:crypto');
    const body = '{"signed":true}';
    const good = `sha256=${createHmac('sha256', 's3cret-token').update(body).digest('hex')}`;
    const url = `${hub.url}/webhooks/${ns}/signed`;
    expect(
      (await post(url, body, { 'content-type': 'application/json', 'x-hub-signature-256': 'sha256=00' }))
        .status,
    ).toBe(401);
    expect(
      (await post(url, body, { 'content-type': 'application/json', 'x-hub-signature-256': good })).status,
    ).toBe(202);
  });

  it('delivers a raw body as-is with its content type', async () => {
    const bytes = Buffer.from([0xff, 0x00, 0xfe, 0x41]);
    const answer = await post(`${hub.url}/webhooks/${ns}/raw`, bytes, {
      'content-type': 'application/octet-stream',
      'idempotency-key': 'raw-1',
    });
    expect(answer.status).toBe(202);
    await sink.waitFor(() => sink.delivered.has('webhook/raw-1'), 20_000, 'the raw delivery');
    const got = sink.received.find((r) => r.id === 'webhook/raw-1')!;
    expect(got.headers['content-type']).toBe('application/octet-stream');
    expect(got.body.equals(bytes)).toBe(true);
  });

  it('keeps incoming CloudEvents attributes (structured mode)', async () => {
    const event = {
      specversion: '1.0',
      id: 'abc-1',
      source: '/orders',
      type: 'order.created',
      subject: 'o-1',
      data: { n: 1 },
      tenant: 'blue',
    };
    const answer = await post(`${hub.url}/webhooks/${ns}/json`, JSON.stringify(event), {
      'content-type': 'application/cloudevents+json',
    });
    expect(answer.status).toBe(202);
    await sink.waitFor(() => sink.delivered.has('abc-1'), 20_000, 'the CloudEvent');
    const got = sink.received.find((r) => r.id === 'abc-1')!;
    expect(got.headers).toMatchObject({
      'ce-source': '/orders',
      'ce-type': 'order.created',
      'ce-subject': 'o-1',
      'ce-tenant': 'blue',
    });
    expect(JSON.parse(got.body.toString())).toEqual({ n: 1 });
  });

  it('still delivers good events after all of the above', async () => {
    const answer = await post(`${hub.url}/webhooks/${ns}/json`, '{"fine":true}', {
      'content-type': 'application/json',
      'idempotency-key': 'after-bad',
    });
    expect(answer.status).toBe(202);
    await sink.waitFor(() => sink.delivered.has('webhook/after-bad'), 20_000, 'a good event');
  });
});

describe('Trigger files with errors', () => {
  let hubProcess: HubProcess | undefined;
  afterAll(() => hubProcess?.child.kill('SIGKILL'));

  it('are reported with file and field while the valid triggers run, and a fixed file is picked up live', async () => {
    const sink = await startSink();
    const ns = uniqueNamespace('files');
    const dir = writeTriggerDir([
      triggerDoc(ns, 'good', { source: { webhook: {} }, target: { http: { url: sink.url } } }),
    ]);
    const badFile = join(dir, 'broken.yaml');
    const bad = (expression: string) =>
      `apiVersion: triggerhub.io/v1alpha1\nkind: Trigger\nmetadata:\n  name: broken\n  namespace: ${ns}\nspec:\n  source:\n    webhook: {}\n  filter:\n    expression: '${expression}'\n  target:\n    http:\n      url: ${sink.url}\n`;
    writeFileSync(badFile, bad('event.type =='));
    writeFileSync(join(dir, 'garbage.yaml'), 'apiVersion: [');
    hubProcess = await spawnHub(dir, await freePort());
    expect(hubProcess.output()).toMatch(
      /broken\.yaml: Trigger [a-z0-9-]+\/broken: spec\.filter\.expression: invalid CEL expression/,
    );
    expect(hubProcess.output()).toMatch(/garbage\.yaml: not valid YAML/);

    const good = await post(`${hubProcess.url}/webhooks/${ns}/good`, '{}', {
      'content-type': 'application/json',
      'idempotency-key': 'g1',
    });
    expect(good.status).toBe(202);
    await sink.waitFor(() => sink.delivered.has('webhook/g1'), 20_000, 'delivery by the valid trigger');
    expect((await post(`${hubProcess.url}/webhooks/${ns}/broken`, '{}')).status).toBe(404);

    writeFileSync(badFile, bad('event.type == "io.triggerhub.webhook"'));
    const fixedUrl = `${hubProcess.url}/webhooks/${ns}/broken`;
    const deadline = Date.now() + 20_000;
    let status = 404;
    while (status === 404 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      status = (await post(fixedUrl, '{}', { 'content-type': 'application/json', 'idempotency-key': 'b1' }))
        .status;
    }
    expect(status).toBe(202);
    await sink.waitFor(() => sink.delivered.has('webhook/b1'), 20_000, 'delivery by the fixed trigger');
    await sink.close();
  });
});

describe('Redis unavailable', () => {
  it('makes webhooks answer 503 (nothing accepted) instead of hanging or acking', async () => {
    const deadPort = await freePort();
    const sink = await startSink();
    const ns = uniqueNamespace('noredis');
    const hub = await startTestHub(
      [triggerDoc(ns, 'fn', { source: { webhook: {} }, target: { http: { url: sink.url } } })],
      {
        redisUrl: `redis://127.0.0.1:${deadPort}`,
      },
    );
    try {
      const answer = await post(`${hub.url}/webhooks/${ns}/fn`, '{}');
      expect(answer.status).toBe(503);
      expect(answer.json()).toMatchObject({ code: 'TH_ERR_QUEUE_UNAVAILABLE' });
      expect((await fetch(`${hub.url}/readyz`)).status).toBe(503);
    } finally {
      await hub.close();
      await sink.close();
    }
  });
});
