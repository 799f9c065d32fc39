import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../../../src/hub.ts';
import {
  freePort,
  spawnHub,
  startTestHub,
  triggerDoc,
  uniqueNamespace,
  writeTriggerDir,
} from '../../support/hub.ts';
import { post, postMany } from '../../support/post.ts';
import { type Sink, startSink } from '../../support/sink.ts';

const json = (id: string) => ({ 'content-type': 'application/json', 'idempotency-key': id });

describe('targets and delivery options', () => {
  let sink: Sink;
  let hub: Hub;
  const ns = uniqueNamespace('targets');

  beforeAll(async () => {
    process.env.TH_TEST_SLACK_URL = ''; // set below, once the sink's port is known
    sink = await startSink();
    process.env.TH_TEST_SLACK_URL = `http://127.0.0.1:${sink.port}/slack/T000/B000/secret`;
    hub = await startTestHub([
      triggerDoc(ns, 'structured', {
        source: { webhook: {} },
        target: { http: { url: sink.url, mode: 'structured' } },
      }),
      triggerDoc(ns, 'kubeless', {
        source: { webhook: {} },
        target: { http: { url: sink.url, compatibility: 'kubeless', headers: { 'x-team': 'blue' } } },
      }),
      triggerDoc(ns, 'slack', {
        source: { webhook: {} },
        target: {
          slack: { webhookUrl: { env: 'TH_TEST_SLACK_URL' }, text: 'alert: {{data.reason}} on {{data.pod}}' },
        },
      }),
      triggerDoc(ns, 'limited', {
        source: { webhook: {} },
        target: { http: { url: sink.url } },
        delivery: { rateLimit: { max: 5, durationMs: 1000 } },
      }),
      triggerDoc(ns, 'filtered', {
        source: { webhook: {} },
        filter: {
          attributes: [{ attribute: 'type', exact: 'io.triggerhub.webhook' }],
          expression: 'event.data.priority >= 3',
        },
        target: { http: { url: sink.url } },
      }),
    ]);
  });

  afterAll(async () => {
    await hub?.close();
    await sink?.close();
  });

  const url = (name: string) => `${hub.url}/webhooks/${ns}/${name}`;

  it('sends structured-mode CloudEvents when asked', async () => {
    expect((await post(url('structured'), '{"n":1}', json('s-1'))).status).toBe(202);
    await sink.waitFor(() => sink.delivered.has('webhook/s-1'), 20_000, 'the structured event');
    const got = sink.received.find((r) => r.id === 'webhook/s-1')!;
    expect(got.headers['content-type']).toMatch(/^application\/cloudevents\+json/);
    expect(JSON.parse(got.body.toString())).toMatchObject({
      specversion: '1.0',
      id: 'webhook/s-1',
      data: { n: 1 },
    });
    expect(got.headers['idempotency-key']).toBe('webhook/s-1');
  });

  it('percent-encodes non-ASCII attributes in ce-* headers, and decodes them on the way in', async () => {
    const subject = 'données/日本 📄 "q".xml';
    const binary = await post(url('kubeless'), '{}', {
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': 'utf-1',
      'ce-source': '/minio',
      'ce-type': 't',
      'ce-subject': encodeURIComponent(subject),
    });
    expect(binary.status).toBe(202);
    await sink.waitFor(() => sink.delivered.has('utf-1'), 20_000, 'the event with a unicode subject');
    const got = sink.received.find((r) => r.id === 'utf-1')!;
    expect(got.headers['ce-subject']).toBe('donn%C3%A9es/%E6%97%A5%E6%9C%AC %F0%9F%93%84 %22q%22.xml');
    expect(decodeURIComponent(got.headers['ce-subject'] as string)).toBe(subject);
  });

  it('adds Kubeless compatibility headers and the extra headers of the target', async () => {
    expect((await post(url('kubeless'), '{}', json('k-1'))).status).toBe(202);
    await sink.waitFor(() => sink.delivered.has('webhook/k-1'), 20_000, 'the kubeless event');
    const got = sink.received.find((r) => r.id === 'webhook/k-1')!;
    expect(got.headers).toMatchObject({
      'event-id': 'webhook/k-1',
      'event-type': 'io.triggerhub.webhook',
      'event-namespace': `/triggerhub/webhook/${ns}/kubeless`,
      'x-team': 'blue',
    });
  });

  it('posts a rendered text to a Slack incoming webhook', async () => {
    const before = sink.received.length;
    expect(
      (await post(url('slack'), '{"reason":"CrashLoopBackOff","pod":"web-1"}', json('sl-1'))).status,
    ).toBe(202);
    await sink.waitFor(() => sink.received.length > before, 20_000, 'the Slack message');
    const got = sink.received.at(-1)!;
    expect(JSON.parse(got.body.toString())).toEqual({ text: 'alert: CrashLoopBackOff on web-1' });
  });

  it('drops events the filter does not match before they are enqueued', async () => {
    const low = await post(url('filtered'), '{"priority":1}', json('f-low'));
    expect(low.json()).toMatchObject({ enqueued: 0, filtered: 1 });
    const high = await post(url('filtered'), '{"priority":5}', json('f-high'));
    expect(high.json()).toMatchObject({ enqueued: 1, filtered: 0 });
    await sink.waitFor(() => sink.delivered.has('webhook/f-high'), 20_000, 'the matching event');
    expect(sink.counts.has('webhook/f-low')).toBe(false);
  });

  it('respects the rate limit (no more than max per window)', async () => {
    await postMany(url('limited'), 15, { headersFor: (i) => json(`r-${i}`) });
    await sink.waitFor(
      () => [...sink.delivered].filter((id) => id.startsWith('webhook/r-')).length === 15,
      30_000,
      '15 events',
    );
    const times = sink.received.filter((r) => r.id?.startsWith('webhook/r-')).map((r) => r.at);
    // 15 events at 5 per window fill three windows: the last starts at least one whole window after the
    // first one ends (unlimited, all 15 arrive within a few ms).
    expect(Math.max(...times) - Math.min(...times)).toBeGreaterThan(1000);
  });
});

describe('dead-letter replay with a filter, and graceful shutdown', () => {
  it('replays only the entries a CEL expression selects', async () => {
    const fixed = new Set<string>();
    const sink = await startSink({ respond: (r) => (fixed.has(r.id!) ? { status: 200 } : { status: 404 }) });
    const ns = uniqueNamespace('where');
    const hub = await startTestHub([
      triggerDoc(ns, 'fn', { source: { webhook: {} }, target: { http: { url: sink.url } } }),
    ]);
    try {
      await postMany(`${hub.url}/webhooks/${ns}/fn`, 6, {
        headersFor: (i) => json(`w-${i}`),
        bodyFor: (i) => ({ vip: i < 2 }),
      });
      const dlq = `${hub.url}/api/dlq/${ns}/fn`;
      for (let i = 0; i < 100; i++) {
        if (((await (await fetch(dlq)).json()) as { count: number }).count === 6) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      fixed.add('webhook/w-0').add('webhook/w-1');
      const replay = await post(`${dlq}/replay`, JSON.stringify({ where: 'event.data.vip == true' }));
      expect(replay.json()).toEqual({ replayed: 2 });
      await sink.waitFor(() => sink.delivered.size === 2, 20_000, 'the two replayed events');
      expect(((await (await fetch(dlq)).json()) as { count: number }).count).toBe(4);
      const bad = await post(`${dlq}/replay`, JSON.stringify({ where: 'event.data ==' }));
      expect(bad.status).toBe(400);
    } finally {
      await hub.close();
      await sink.close();
    }
  });

  it('lets in-flight deliveries finish on SIGTERM, exits 0, and nothing is delivered twice after a restart', async () => {
    const sink = await startSink({ respond: () => ({ status: 200, delayMs: 1500 }) });
    const ns = uniqueNamespace('term');
    const dir = writeTriggerDir([
      triggerDoc(ns, 'fn', { source: { webhook: {} }, target: { http: { url: sink.url } } }),
    ]);
    const first = await spawnHub(dir, await freePort());
    await postMany(`${first.url}/webhooks/${ns}/fn`, 10, { headersFor: (i) => json(`t-${i}`) });
    await sink.waitFor(() => sink.received.length === 10, 20_000, 'ten deliveries under way');
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(sink.delivered.size).toBe(10);
    const second = await spawnHub(dir, await freePort());
    await new Promise((resolve) => setTimeout(resolve, 2000));
    second.child.kill('SIGTERM');
    await second.exited;
    expect(sink.received.length).toBe(10);
    await sink.close();
  });
});
