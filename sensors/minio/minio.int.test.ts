// MinIO put-event processing end to end: objects written with the minio client into the service stack's
// real MinIO, whose webhook target TESTHUB (with a queue_dir) posts every notification to
// http://127.0.0.1:<TH_MINIO_WEBHOOK_PORT>/minio (sensors/minio/service.ts). The hub serves push sources
// under /webhooks/<path>, so a relay on that port passes each request to the hub's /webhooks/minio
// unchanged and passes the hub's answer back unchanged (a 502 while the hub is down, as an ingress would):
// MinIO sees exactly what the hub answered.
//
// MinIO sends the notifications of every subscribed bucket to that one target, so every test uses a bucket
// of its own and a trigger filtered on it (records of other buckets are acknowledged and skipped).

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { Client } from 'minio';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { keyPrefix, queueName } from '../../src/queue/keys.ts';
import {
  freePort,
  type HubProcess,
  redisUrl,
  spawnHub,
  startTestHub,
  type TriggerDoc,
  triggerDoc,
  uniqueNamespace,
  writeTriggerDir,
} from '../../test/support/hub.ts';
import { type Sink, startSink } from '../../test/support/sink.ts';
import {
  minioClient,
  percentile,
  pool,
  type Relay,
  setting,
  startRelay,
  subscribedBucket,
} from './test-support.ts';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function minioTrigger(namespace: string, sinkUrl: string, source: Record<string, unknown>): TriggerDoc {
  return triggerDoc(namespace, 'objects', {
    source: { minio: { path: 'minio', authToken: { env: 'TH_MINIO_WEBHOOK_TOKEN' }, ...source } },
    // Structured mode: the subject (the decoded key, often not ASCII) travels in the JSON body.
    target: { http: { url: sinkUrl, mode: 'structured' } },
    delivery: { retries: 20, backoff: { initialMs: 100, maxMs: 2000 } },
  });
}

interface Delivered {
  id: string;
  type: string;
  subject: string;
  at: number;
}

/** The first delivery of every event id the sink received. */
function delivered(sink: Sink): Map<string, Delivered> {
  const byId = new Map<string, Delivered>();
  for (const received of sink.received) {
    const event = JSON.parse(received.body.toString('utf8')) as { id: string; type: string; subject: string };
    if (!byId.has(event.id))
      byId.set(event.id, { id: event.id, type: event.type, subject: event.subject, at: received.at });
  }
  return byId;
}

function subjectsOf(sink: Sink, type: string): string[] {
  return [...delivered(sink).values()]
    .filter((event) => event.type === type)
    .map((event) => event.subject)
    .sort();
}

const created = 'io.triggerhub.minio.ObjectCreated.Put';
const removed = 'io.triggerhub.minio.ObjectRemoved.Delete';

/** Keys of every awkward kind: spaces, `+`, `%`, unicode, S3-legal punctuation, deep prefixes. */
function awkwardKeys(count: number, tag: string): string[] {
  const shapes = [
    (i: number) => `plain/${tag}-${i}.xml`,
    (i: number) => `with space/file ${i} copy.txt`,
    (i: number) => `plus+sign/${i}+1=${i + 1}.csv`,
    (i: number) => `percent%25/100%-${i}%2F.bin`,
    (i: number) => `unicode/données/été-${i}-日本語-📄.xml`,
    (i: number) => `deep/a/b/c/d/e/f/${i}`,
    (i: number) => `punct/?&=#~'!$(),;@[]{}^ -${i}.json`,
    (i: number) => `${i}`,
  ];
  return Array.from({ length: count }, (_, i) => shapes[i % shapes.length]!(i));
}

let client: Client;
let relay: Relay;

beforeAll(async () => {
  client = minioClient();
  relay = await startRelay();
});

afterAll(async () => {
  await relay?.close();
});

describe('MinIO notifications through the real MinIO webhook target', () => {
  it('every object put is delivered once with its exact key (spaces, unicode, +, %, nested prefixes), and deletes when subscribed', async () => {
    const count = Number(process.env.TH_MINIO_OBJECTS ?? 600);
    const bucket = await subscribedBucket(client);
    const sink = await startSink();
    cleanups.push(() => sink.close());
    const hub = await startTestHub([
      minioTrigger(uniqueNamespace('minio'), sink.url, { bucket, events: ['put', 'delete'] }),
    ]);
    cleanups.push(() => hub.close());
    relay.target = hub.url;
    cleanups.push(() => {
      relay.target = undefined;
    });

    const keys = awkwardKeys(count, 'all');
    const putAt = new Map<string, number>();
    await pool(keys, 16, async (key) => {
      await client.putObject(bucket, key, Buffer.from(`<doc>${key}</doc>`));
      putAt.set(`${bucket}/${key}`, Date.now());
    });
    const deletedKeys = keys.filter((_, i) => i % 10 === 0);
    await pool(deletedKeys, 16, (key) => client.removeObject(bucket, key));

    const expected = count + deletedKeys.length;
    await sink.waitFor(() => delivered(sink).size >= expected, 300_000, `${expected} events`);
    // One more MinIO send cycle (3 s), so a surplus event would have arrived too.
    await new Promise((resolve) => setTimeout(resolve, 4000));

    expect(subjectsOf(sink, created)).toEqual(keys.map((key) => `${bucket}/${key}`).sort());
    expect(subjectsOf(sink, removed)).toEqual(deletedKeys.map((key) => `${bucket}/${key}`).sort());
    expect(delivered(sink).size).toBe(expected);

    const latencies = [...delivered(sink).values()]
      .filter((event) => event.type === created)
      .map((event) => event.at - putAt.get(event.subject)!);
    console.log(
      `minio: ${count} puts + ${deletedKeys.length} deletes delivered; put → function p50 ${percentile(latencies, 50)} ms, p99 ${percentile(latencies, 99)} ms; ` +
        `answers to MinIO ${JSON.stringify(Object.fromEntries(relay.statuses))}; deliveries ${sink.received.length}`,
    );
  }, 600_000);
});

describe('filters', () => {
  it('prefix, suffix and event-name filters are respected: only matching puts are delivered', async () => {
    const bucket = await subscribedBucket(client);
    const sink = await startSink();
    cleanups.push(() => sink.close());
    const spec = { bucket, events: ['s3:ObjectCreated:*'], prefix: 'in box/', suffix: '.xml' };
    const hub = await startTestHub([minioTrigger(uniqueNamespace('minio'), sink.url, spec)]);
    cleanups.push(() => hub.close());
    relay.target = hub.url;
    cleanups.push(() => {
      relay.target = undefined;
    });

    const wanted = ['in box/a.xml', 'in box/sub/dir/b c+d.xml', 'in box/été.xml'];
    const unwanted = [
      'in box/a.csv',
      'in box/a.XML',
      'out/a.xml',
      'in/box/a.xml',
      'in+box/a.xml',
      'xin box/a.xml',
    ];
    await pool([...wanted, ...unwanted], 8, async (key) => {
      await client.putObject(bucket, key, Buffer.from('<x/>'));
    });
    // Deletes are not subscribed by this trigger.
    await client.removeObject(bucket, 'in box/a.xml');
    // MinIO sends in order, one at a time: once a put made after all the others is in, they were all
    // answered; one more send cycle catches anything out of order.
    await client.putObject(bucket, 'in box/zz-last.xml', Buffer.from('<x/>'));
    await sink.waitFor(
      () => subjectsOf(sink, created).includes(`${bucket}/in box/zz-last.xml`),
      120_000,
      'the last put',
    );
    await new Promise((resolve) => setTimeout(resolve, 4000));

    expect(subjectsOf(sink, created)).toEqual(
      [...wanted, 'in box/zz-last.xml'].map((key) => `${bucket}/${key}`).sort(),
    );
    expect(subjectsOf(sink, removed)).toEqual([]);
    expect(delivered(sink).size).toBe(wanted.length + 1);
  }, 180_000);
});

describe('MinIO keeps what the hub did not take (queue_dir)', () => {
  it('a hub that is down (SIGKILLed, twice) while 500 objects are put delivers all of them once it is back', async () => {
    const bucket = await subscribedBucket(client);
    const sink = await startSink();
    cleanups.push(() => sink.close());
    const dir = writeTriggerDir([
      minioTrigger(uniqueNamespace('minio'), sink.url, { bucket, events: ['put'] }),
    ]);
    const port = await freePort();
    let hub: HubProcess | undefined;
    const up = async () => {
      hub = await spawnHub(dir, port);
      relay.target = hub.url;
    };
    const kill = async () => {
      relay.target = undefined;
      hub?.child.kill('SIGKILL');
      await hub?.exited;
      hub = undefined;
    };
    cleanups.push(kill);

    await up();
    const before = awkwardKeys(20, 'before');
    await pool(before, 8, async (key) => {
      await client.putObject(bucket, key, Buffer.from('x'));
    });
    await sink.waitFor(() => delivered(sink).size >= before.length, 120_000, 'the first 20 events');

    await kill();
    const whileDown = awkwardKeys(500, 'down');
    await pool(whileDown, 16, async (key) => {
      await client.putObject(bucket, key, Buffer.from('x'));
    });
    // MinIO tries (and fails) at least once while the hub is away.
    await new Promise((resolve) => setTimeout(resolve, 4000));
    expect(delivered(sink).size).toBe(before.length);

    // Back up, and killed again in the middle of MinIO's replay.
    await up();
    await sink.waitFor(() => delivered(sink).size >= before.length + 50, 120_000, '50 replayed events');
    await kill();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await up();

    const all = [...before, ...whileDown].map((key) => `${bucket}/${key}`).sort();
    await sink.waitFor(() => delivered(sink).size >= all.length, 300_000, `${all.length} events`);
    await new Promise((resolve) => setTimeout(resolve, 4000));
    expect(subjectsOf(sink, created)).toEqual(all);
    console.log(
      `minio queue_dir: ${all.length} delivered after two SIGKILLs; ${sink.received.length} deliveries; answers to MinIO ${JSON.stringify(Object.fromEntries(relay.statuses))}`,
    );
  }, 600_000);
});

/** A notification exactly as MinIO sent it (fixtures/), for requests made by hand. */
const fixture = (name: string) => readFileSync(join(import.meta.dirname, 'fixtures', `${name}.json`));

async function jobCount(redis: Redis, namespace: string): Promise<number> {
  const queue = new Queue(queueName({ key: `${namespace}/objects` }), {
    connection: redis,
    prefix: keyPrefix,
  });
  try {
    const counts = await queue.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed');
    return Object.values(counts).reduce((sum, n) => sum + n, 0);
  } finally {
    await queue.close();
  }
}

async function postTo(url: string, body: Buffer | string, headers: Record<string, string>) {
  const response = await request(url, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', ...headers },
  });
  return {
    status: response.statusCode,
    json: (await response.body.json()) as { code?: string; message?: string; enqueued?: number },
  };
}

describe('requests that are not from MinIO', () => {
  it('a missing or wrong token gets 401 or 403 and enqueues nothing; a malformed body gets 400 with the reason; an unreadable record is dead-lettered, the rest delivered', async () => {
    const namespace = uniqueNamespace('minio');
    const sink = await startSink();
    cleanups.push(() => sink.close());
    const doc = triggerDoc(namespace, 'objects', {
      source: { minio: { authToken: { env: 'TH_MINIO_WEBHOOK_TOKEN' } } },
      target: { http: { url: sink.url } },
    });
    const hub = await startTestHub([doc]);
    cleanups.push(() => hub.close());
    const redis = new Redis(redisUrl(), { maxRetriesPerRequest: null });
    cleanups.push(() => redis.quit());
    const url = `${hub.url}/webhooks/${namespace}/objects`;
    const body = fixture('put-xml');
    const token = setting('TH_MINIO_WEBHOOK_TOKEN');

    const missing = await postTo(url, body, {});
    expect(missing.status).toBe(401);
    expect(missing.json.code).toBe('TH_ERR_UNAUTHORIZED');
    expect((await postTo(url, body, { authorization: `Basic ${token}` })).status).toBe(401);
    const wrong = await postTo(url, body, { authorization: `Bearer ${token}x` });
    expect(wrong.status).toBe(403);
    expect(wrong.json.message).not.toContain(token);

    const malformed: Array<[string, string, RegExp]> = [
      ['{"Records": [', 'truncated JSON', /not valid JSON/],
      ['{"EventName": "s3:ObjectCreated:Put"}', 'no Records', /no "Records" array/],
      ['', 'empty', /empty body/],
    ];
    for (const [text, what, reason] of malformed) {
      const answer = await postTo(url, text, { authorization: `Bearer ${token}` });
      expect(answer.status, what).toBe(400);
      expect(answer.json.code, what).toBe('TH_ERR_BAD_REQUEST');
      expect(answer.json.message, what).toMatch(reason);
    }
    expect(await jobCount(redis, namespace)).toBe(0);

    // The same body with the right token is taken (so the checks above could have failed).
    const accepted = await postTo(url, body, { authorization: `Bearer ${token}` });
    expect(accepted.status).toBe(200);
    expect(accepted.json.enqueued).toBe(1);
    expect(await jobCount(redis, namespace)).toBe(1);
    await sink.waitFor(() => sink.delivered.size === 1, 30_000, 'the delivery');
    expect(sink.received[0]!.headers['ce-type']).toBe(created);

    // A record that cannot be read does not refuse the others: it is taken and dead-lettered with the reason.
    const notification = JSON.parse(body.toString('utf8'));
    const good = structuredClone(notification.Records[0]);
    good.s3.object.key = 'second.xml';
    const broken = structuredClone(notification.Records[0]);
    broken.s3.object.key = 'bad%ZZkey.xml';
    notification.Records = [good, broken];
    const mixed = await postTo(url, JSON.stringify(notification), { authorization: `Bearer ${token}` });
    expect(mixed.status).toBe(200);
    expect(mixed.json.enqueued).toBe(2);
    await sink.waitFor(() => sink.delivered.size === 2, 30_000, 'the second delivery');
    const queue = new Queue(queueName({ key: `${namespace}/objects` }), {
      connection: redis,
      prefix: keyPrefix,
    });
    cleanups.push(() => queue.close());
    const deadline = Date.now() + 30_000;
    while ((await queue.getJobCounts('failed')).failed < 1 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 100));
    const [deadLettered] = await queue.getFailed();
    expect(deadLettered?.failedReason).toMatch(
      /TH_ERR_POISON_EVENT: s3.object.key is not a valid query-escaped key/,
    );
    expect(sink.received).toHaveLength(2);
  });
});

/** A Redis of this test's own (so it can be stopped), with every write fsynced (so a SIGKILL loses nothing). */
async function startOwnRedis(dir: string, port: number): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
      '--maxmemory-policy',
      'noeviction',
    ],
    { stdio: 'ignore' },
  );
  const probe = new Redis(port, '127.0.0.1', {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  probe.on('error', () => {});
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      await probe.connect();
      await probe.ping();
      probe.disconnect();
      return child;
    } catch {
      if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not start`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

describe('Redis unavailable', () => {
  it('while Redis is down the hub answers 503 (MinIO keeps and re-sends) and every object is delivered once Redis is back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'th-minio-redis-'));
    const port = await freePort();
    let redisServer = await startOwnRedis(dir, port);
    cleanups.push(() => stopProcess(redisServer));
    const bucket = await subscribedBucket(client);
    const sink = await startSink();
    cleanups.push(() => sink.close());
    const namespace = uniqueNamespace('minio');
    const hub = await startTestHub([minioTrigger(namespace, sink.url, { bucket, events: ['put'] })], {
      redisUrl: `redis://127.0.0.1:${port}`,
    });
    cleanups.push(() => hub.close());
    relay.target = hub.url;
    cleanups.push(() => {
      relay.target = undefined;
    });

    // By hand first: the answer itself.
    await stopProcess(redisServer);
    const url = `${hub.url}/webhooks/minio`;
    // A record this trigger keeps (the fixture's bucket is another one); refused, so never delivered.
    const notification = JSON.parse(fixture('put-xml').toString('utf8'));
    notification.Records[0].s3.bucket.name = bucket;
    notification.Records[0].s3.object.key = 'by-hand.xml';
    const answer = await postTo(url, JSON.stringify(notification), {
      authorization: `Bearer ${setting('TH_MINIO_WEBHOOK_TOKEN')}`,
    });
    expect(answer.status).toBe(503);
    expect(answer.json.code).toBe('TH_ERR_QUEUE_UNAVAILABLE');

    // Then MinIO: puts while Redis is down are refused with 503 and stay in MinIO's queue_dir.
    const refusedBefore = relay.statuses.get(503) ?? 0;
    const keys = awkwardKeys(40, 'redis');
    await pool(keys, 8, async (key) => {
      await client.putObject(bucket, key, Buffer.from('x'));
    });
    const deadline = Date.now() + 60_000;
    while ((relay.statuses.get(503) ?? 0) === refusedBefore && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 200));
    expect(relay.statuses.get(503) ?? 0).toBeGreaterThan(refusedBefore);
    expect(sink.received).toHaveLength(0);

    redisServer = await startOwnRedis(dir, port);
    const fromMinio = () =>
      subjectsOf(sink, created).filter((subject) => subject !== `${bucket}/by-hand.xml`);
    try {
      await sink.waitFor(() => fromMinio().length >= keys.length, 180_000, `${keys.length} events`);
    } catch (error) {
      // Say where the events stopped (MinIO's re-sends, the hub's queue, the target). It once was a queue
      // broken by Redis dying as the hub opened it (test/integration/pipeline/redis-crash-at-start.test.ts).
      const queue = hub.engine.get(`${namespace}/objects`)?.running?.queue.queue;
      const counts = await queue?.getJobCounts().catch((e: Error) => e.message);
      throw new Error(
        `${(error as Error).message}; delivered ${fromMinio().length}, relay answers ${JSON.stringify(
          Object.fromEntries(relay.statuses),
        )}, hub queue ${JSON.stringify(counts)}`,
      );
    }
    // The request answered 503 was not acknowledged, so its sender must send it again; the hub may still have
    // written it once Redis was back (at least once: a re-sent record has the same id and enqueues nothing).
    expect(fromMinio()).toEqual(keys.map((key) => `${bucket}/${key}`).sort());
  }, 300_000);
});

describe('presigned URL enrichment', () => {
  it('a created-object event carries a presigned GET URL the function can fetch the object with', async () => {
    const bucket = await subscribedBucket(client);
    const sink = await startSink();
    cleanups.push(() => sink.close());
    const presign = {
      endpoint: setting('TH_MINIO_ENDPOINT'),
      accessKey: { env: 'TH_MINIO_ACCESS_KEY' },
      secretKey: { env: 'TH_MINIO_SECRET_KEY' },
      expirySeconds: 600,
    };
    const hub = await startTestHub([minioTrigger(uniqueNamespace('minio'), sink.url, { bucket, presign })]);
    cleanups.push(() => hub.close());
    relay.target = hub.url;
    cleanups.push(() => {
      relay.target = undefined;
    });

    const key = 'scans/été 2026+x%/page 1.xml';
    const content = `<page>${randomBytes(8).toString('hex')}</page>`;
    await client.putObject(bucket, key, Buffer.from(content));
    await sink.waitFor(() => sink.received.length > 0, 120_000, 'the event');
    const event = JSON.parse(sink.received[0]!.body.toString('utf8')) as {
      subject: string;
      presignedurl?: string;
    };
    expect(event.subject).toBe(`${bucket}/${key}`);
    expect(event.presignedurl).toMatch(/X-Amz-Signature=/);
    const response = await request(event.presignedurl!);
    expect(response.statusCode).toBe(200);
    expect(await response.body.text()).toBe(content);
  });
});
