// Secrets never leave the hub: a real hub process runs with known secret values (the API token from a
// file, a webhook token, a MinIO token, a Slack URL, a Kafka SASL password, a NATS password, AWS keys as
// file references), errors are provoked on every path that handles them (wrong credentials, an
// unreachable Slack, a Kafka broker that refuses SASL, a Kinesis stream that does not exist), and then its
// whole log, /metrics, the API and the dashboard's JSON are searched for the values: none may appear.
// The same run checks that the API token protects /api and /dashboard and nothing else.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  freePort,
  type HubProcess,
  spawnHub,
  triggerDoc,
  uniqueNamespace,
  writeTriggerDir,
} from '../../support/hub.ts';
import { post } from '../../support/post.ts';
import { type Sink, startSink } from '../../support/sink.ts';
import { waitFor } from '../../support/wait.ts';

const secret = (name: string) => `${name}-${randomBytes(12).toString('hex')}`;
const secrets = {
  apiToken: secret('api'),
  webhookToken: secret('hook'),
  minioToken: secret('minio'),
  slackPath: secret('slack'),
  kafkaPassword: secret('kafkapw'),
  natsPassword: secret('natspw'),
  awsSecretKey: secret('awssecret'),
  awsAccessKey: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`,
};

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run with the integration project`);
  return value;
}

describe('secrets never appear in logs, errors, metrics or the API', { timeout: 300_000 }, () => {
  let hub: HubProcess;
  let sink: Sink;
  const ns = uniqueNamespace('secrets');
  const auth = { authorization: `Bearer ${secrets.apiToken}` };
  /** Every text the hub showed anyone, gathered as the test goes. */
  const seen: Array<{ where: string; text: string }> = [];
  const get = async (path: string, headers: Record<string, string> = {}) => {
    const response = await fetch(`${hub.url}${path}`, { headers });
    const text = await response.text();
    seen.push({ where: `GET ${path}`, text });
    return { status: response.status, text };
  };

  beforeAll(async () => {
    sink = await startSink();
    const dir = mkdtempSync(join(tmpdir(), 'th-secrets-'));
    const file = (name: string, value: string) => {
      const path = join(dir, name);
      writeFileSync(path, `${value}\n`);
      return path;
    };
    const deadPort = await freePort();
    const triggers = writeTriggerDir([
      triggerDoc(ns, 'hook', {
        source: { webhook: { auth: { bearer: { env: 'SECRET_WEBHOOK_TOKEN' } } } },
        target: { http: { url: sink.url } },
      }),
      triggerDoc(ns, 'signed', {
        source: { webhook: { auth: { hmac: { secret: { env: 'SECRET_WEBHOOK_TOKEN' } } } } },
        target: { http: { url: sink.url } },
      }),
      triggerDoc(ns, 'minio', {
        source: { minio: { authToken: { file: file('minio-token', secrets.minioToken) } } },
        target: { http: { url: sink.url } },
      }),
      triggerDoc(ns, 'slack', {
        source: { webhook: {} },
        // Unreachable: every delivery fails, is retried, and ends in the dead-letter queue.
        target: { slack: { webhookUrl: { env: 'SECRET_SLACK_URL' } } },
        delivery: { retries: 1, backoff: { initialMs: 50, maxMs: 100 }, timeoutMs: 2000 },
      }),
      triggerDoc(ns, 'kafka', {
        // The test broker speaks PLAINTEXT only: the SASL handshake fails, again and again.
        source: {
          kafka: {
            brokers: env('TH_KAFKA_BROKERS').split(','),
            topics: [`th-secrets-${randomBytes(4).toString('hex')}`],
            sasl: { mechanism: 'plain', username: 'hub', password: { env: 'SECRET_KAFKA_PASSWORD' } },
          },
        },
        target: { http: { url: sink.url } },
      }),
      triggerDoc(ns, 'nats', {
        source: {
          nats: {
            servers: [env('TH_NATS_URL')],
            subject: `th.secrets.${randomBytes(4).toString('hex')}`,
            auth: { user: 'hub', password: { env: 'SECRET_NATS_PASSWORD' } },
          },
        },
        target: { http: { url: sink.url } },
      }),
      triggerDoc(ns, 'kinesis', {
        source: {
          kinesis: {
            stream: `th-missing-${randomBytes(4).toString('hex')}`,
            endpoint: env('TH_KINESIS_ENDPOINT'),
            region: 'us-east-1',
            credentials: {
              accessKeyId: { file: file('aws-access-key', secrets.awsAccessKey) },
              secretAccessKey: { file: file('aws-secret-key', secrets.awsSecretKey) },
            },
          },
        },
        target: { http: { url: sink.url } },
      }),
    ]);
    hub = await spawnHub(triggers, await freePort(), {
      // debug: the most the hub ever writes.
      LOG_LEVEL: 'debug',
      TH_API_TOKEN_FILE: file('api-token', secrets.apiToken),
      SECRET_WEBHOOK_TOKEN: secrets.webhookToken,
      SECRET_SLACK_URL: `http://127.0.0.1:${deadPort}/services/T000/B000/${secrets.slackPath}`,
      SECRET_KAFKA_PASSWORD: secrets.kafkaPassword,
      SECRET_NATS_PASSWORD: secrets.natsPassword,
    });
  });

  afterAll(async () => {
    hub?.child.kill('SIGKILL');
    await sink?.close();
  });

  it('the API token (from TH_API_TOKEN_FILE) guards /api and /dashboard data, and only those', async () => {
    for (const path of ['/api/triggers', `/api/dlq/${ns}/slack`, '/dashboard/api/triggers']) {
      const tries: Array<Record<string, string>> = [
        {},
        { authorization: 'Bearer wrong' },
        { authorization: secrets.apiToken },
      ];
      for (const headers of tries) {
        const answer = await get(path, headers);
        expect(answer.status, `${path} ${JSON.stringify(headers)}`).toBe(401);
        expect(JSON.parse(answer.text)).toMatchObject({ code: 'TH_ERR_UNAUTHORIZED' });
      }
      expect((await get(path, auth)).status).toBe(200);
    }
    const replay = await fetch(`${hub.url}/api/dlq/${ns}/slack/replay`, { method: 'POST', body: '{}' });
    expect(replay.status).toBe(401);
    // The dashboard page sends a browser to the sign-in form; a wrong sign-in is refused.
    const page = await fetch(`${hub.url}/dashboard`, {
      headers: { accept: 'text/html' },
      redirect: 'manual',
    });
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe('/dashboard/login');
    const login = await fetch(`${hub.url}/dashboard/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'token=wrong',
      redirect: 'manual',
    });
    expect(login.status).toBe(401);
    // Left open on purpose: probes, Prometheus, and webhooks (which carry their own credentials).
    expect((await get('/healthz')).status).toBe(200);
    expect((await get('/readyz')).status).toBe(200);
    expect((await get('/metrics')).status).toBe(200);
    expect((await post(`${hub.url}/webhooks/${ns}/slack`, '{"open":true}')).status).toBe(202);
    // The token came from a file, not a flag: nothing on the command line shows it.
    expect(readFileSync(`/proc/${hub.child.pid}/cmdline`, 'utf8')).not.toContain(secrets.apiToken);
  });

  it('after wrong credentials and failing targets and sources, no secret value is anywhere', async () => {
    // Wrong credentials, each kind.
    const hook = `${hub.url}/webhooks/${ns}/hook`;
    for (const authorization of [
      'Bearer wrong',
      `Bearer ${secrets.webhookToken}x`,
      `Basic ${btoa(`u:${secrets.webhookToken}`)}`,
    ]) {
      const answer = await post(hook, '{}', { 'content-type': 'application/json', authorization });
      expect(answer.status).toBe(401);
      seen.push({ where: 'webhook 401', text: answer.body });
    }
    const right = await post(hook, '{"n":1}', {
      'content-type': 'application/json',
      authorization: `Bearer ${secrets.webhookToken}`,
    });
    expect(right.status).toBe(202);
    seen.push({ where: 'webhook 202', text: right.body });
    const signed = await post(`${hub.url}/webhooks/${ns}/signed`, '{}', {
      'content-type': 'application/json',
      'x-hub-signature-256': 'sha256=00',
    });
    expect(signed.status).toBe(401);
    seen.push({ where: 'hmac 401', text: signed.body });
    for (const authorization of ['Bearer wrong', '']) {
      const answer = await post(`${hub.url}/webhooks/${ns}/minio`, '{"Records":[]}', {
        'content-type': 'application/json',
        authorization,
      });
      expect([401, 403]).toContain(answer.status);
      seen.push({ where: 'minio 40x', text: answer.body });
    }

    // Slack unreachable: the event is retried, then dead-lettered with the error of the last attempt.
    await post(`${hub.url}/webhooks/${ns}/slack`, '{"to":"slack"}', {
      'content-type': 'application/json',
      'idempotency-key': 'to-slack',
    });
    await waitFor(
      async () => {
        const dlq = JSON.parse((await get(`/api/dlq/${ns}/slack`, auth)).text) as { count: number };
        return dlq.count >= 1;
      },
      90_000,
      'the Slack delivery to be dead-lettered',
    );
    const dlq = await get(`/api/dlq/${ns}/slack`, auth);
    expect(dlq.text).toMatch(/ECONNREFUSED|connect/i);

    // Kafka refuses the SASL handshake and Kinesis has no such stream: the hub says so (log or status).
    await waitFor(
      async () => {
        const triggers = (await get('/api/triggers', auth)).text;
        const log = hub.output();
        return (
          /sasl|SASL/.test(log + triggers) &&
          /kinesis/i.test(log) &&
          /ResourceNotFound|not found|does not exist/i.test(log + triggers)
        );
      },
      90_000,
      'the Kafka and Kinesis failures to be reported',
    );

    for (const path of [
      '/metrics',
      '/api/triggers',
      `/api/dlq/${ns}/slack`,
      '/dashboard/api/triggers',
      '/readyz',
    ])
      await get(path, auth);
    for (const name of ['hook', 'slack', 'kafka', 'nats', 'kinesis', 'minio'])
      await get(`/dashboard/api/triggers/${ns}/${name}`, auth);
    const everything = [...seen, { where: 'hub log', text: hub.output() }];
    expect(everything.reduce((size, item) => size + item.text.length, 0)).toBeGreaterThan(5000);
    for (const [name, value] of Object.entries(secrets))
      for (const form of new Set([value, encodeURIComponent(value), Buffer.from(value).toString('base64')]))
        for (const item of everything)
          expect(item.text.includes(form), `${name} found in ${item.where}`).toBe(false);
  });
});
