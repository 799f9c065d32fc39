// HTTPS and mTLS over real TLS connections: with TH_TLS_CERT_FILE/KEY_FILE the hub serves HTTPS; with
// TH_TLS_CLIENT_CA_FILE, /api and /dashboard need a client certificate signed by that CA (another CA's, or
// none, gets 401 with a code), while probes, /metrics and webhooks stay reachable without one.
// Certificates are made for the test with the openssl command-line tool.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFromEnv } from '../../../src/config.ts';
import type { Hub } from '../../../src/hub.ts';
import { startTestHub, triggerDoc, uniqueNamespace } from '../../support/hub.ts';
import { type Sink, startSink } from '../../support/sink.ts';

const dir = mkdtempSync(join(tmpdir(), 'th-tls-'));
const path = (name: string) => join(dir, name);
const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });

/** A CA, and a certificate it signs (for the server: with 127.0.0.1 as a subject alternative name). */
function makeCa(name: string): void {
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
    '-keyout',
    path(`${name}.key`),
    '-out',
    path(`${name}.pem`),
  );
}
function makeCert(name: string, ca: string, server: boolean): void {
  openssl(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    `/CN=${name}`,
    '-keyout',
    path(`${name}.key`),
    '-out',
    path(`${name}.csr`),
  );
  const ext = path(`${name}.ext`);
  execFileSync('sh', [
    '-c',
    `printf '%s\\n' '${server ? 'subjectAltName=IP:127.0.0.1' : 'extendedKeyUsage=clientAuth'}' > ${ext}`,
  ]);
  openssl(
    'x509',
    '-req',
    '-in',
    path(`${name}.csr`),
    '-CA',
    path(`${ca}.pem`),
    '-CAkey',
    path(`${ca}.key`),
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    ext,
    '-out',
    path(`${name}.pem`),
  );
}

describe('HTTPS, and mTLS for the API and dashboard', { timeout: 120_000 }, () => {
  let hub: Hub;
  let sink: Sink;
  const ns = uniqueNamespace('tls');
  const agents: Agent[] = [];
  const client = (cert?: string) => {
    const agent = new Agent({
      connect: {
        ca: readFileSync(path('hub-ca.pem')),
        ...(cert ? { cert: readFileSync(path(`${cert}.pem`)), key: readFileSync(path(`${cert}.key`)) } : {}),
      },
    });
    agents.push(agent);
    return agent;
  };
  const call = async (agent: Agent, method: 'GET' | 'POST', route: string, body?: string) => {
    const response = await request(`${hub.url}${route}`, {
      method,
      dispatcher: agent,
      ...(body === undefined ? {} : { body, headers: { 'content-type': 'application/json' } }),
    });
    const text = await response.body.text();
    return { status: response.statusCode, text };
  };

  beforeAll(async () => {
    makeCa('hub-ca');
    makeCa('other-ca');
    makeCert('server', 'hub-ca', true);
    makeCert('good-client', 'hub-ca', false);
    makeCert('rogue-client', 'other-ca', false);
    // The files reach the hub as a user gives them: through the environment.
    const { tls } = configFromEnv({
      TH_TLS_CERT_FILE: path('server.pem'),
      TH_TLS_KEY_FILE: path('server.key'),
      TH_TLS_CLIENT_CA_FILE: path('hub-ca.pem'),
    });
    sink = await startSink();
    hub = await startTestHub(
      [triggerDoc(ns, 'hook', { source: { webhook: {} }, target: { http: { url: sink.url } } })],
      { host: '127.0.0.1', ...(tls ? { tls } : {}) },
    );
  });

  afterAll(async () => {
    for (const agent of agents) await agent.close();
    await hub?.close();
    await sink?.close();
  });

  it('serves HTTPS', () => {
    expect(hub.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it('lets a client with a certificate of the client CA use the API and dashboard data', async () => {
    const good = client('good-client');
    expect((await call(good, 'GET', '/api/triggers')).status).toBe(200);
    expect((await call(good, 'GET', '/dashboard/api/triggers')).status).toBe(200);
  });

  it('refuses the API and dashboard to clients without one, or with another CA’s, with 401 and a code', async () => {
    for (const agent of [client(), client('rogue-client')]) {
      for (const route of ['/api/triggers', '/dashboard/api/triggers', '/dashboard']) {
        const answer = await call(agent, 'GET', route);
        expect(answer.status, route).toBe(401);
        expect(JSON.parse(answer.text)).toMatchObject({
          code: 'TH_ERR_UNAUTHORIZED',
          message: expect.stringContaining('client certificate'),
        });
      }
    }
  });

  it('leaves probes, metrics and webhooks reachable without a client certificate', async () => {
    const anonymous = client();
    expect((await call(anonymous, 'GET', '/healthz')).status).toBe(200);
    expect((await call(anonymous, 'GET', '/readyz')).status).toBe(200);
    expect((await call(anonymous, 'GET', '/metrics')).status).toBe(200);
    expect((await call(anonymous, 'POST', `/webhooks/${ns}/hook`, '{"over":"tls"}')).status).toBe(202);
  });

  it('does not answer plain HTTP on the HTTPS port', async () => {
    const plain = hub.url.replace('https://', 'http://');
    const outcome = await fetch(`${plain}/healthz`).then(
      (response) => response.status,
      () => 'refused',
    );
    expect(outcome).not.toBe(200);
  });
});
