// Backfill of a Kafka trigger against the real Kafka and Redis of the service stack: a time window is
// delivered again exactly (same ids, marked as backfill) while live traffic flows, the live group's offsets
// are left alone, a SIGKILLed hub resumes the backfill, and dry run, rate, cancel and unsupported sources
// behave as documented (docs/backfill.md).

import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, type Message } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackfillProgress } from '../../src/backfill/backfill.ts';

import type { Hub } from '../../src/hub.ts';
import { api } from '../../test/support/backfill.ts';
import {
  freePort,
  runCli,
  spawnHub,
  startTestHub,
  triggerDoc,
  uniqueNamespace,
  writeTriggerDir,
} from '../../test/support/hub.ts';
import { type Received, type Sink, startSink } from '../../test/support/sink.ts';
import { waitFor } from '../../test/support/wait.ts';
import { kafkaEventId } from './message.ts';

function brokers(): string[] {
  const value = process.env.TH_KAFKA_BROKERS;
  if (!value) throw new Error('TH_KAFKA_BROKERS is not set: run with the integration project');
  return value.split(',');
}

const kafka = new Kafka({ clientId: 'th-backfill-test', brokers: brokers(), logLevel: logLevel.NOTHING });
const admin = kafka.admin();
const producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
const partitions = 3;
/** Record i has this timestamp: one second apart, starting two hours ago. */
const base = Date.now() - 2 * 3600_000;
const timeOf = (i: number) => base + i * 1000;

beforeAll(async () => {
  await admin.connect();
  await producer.connect();
});

afterAll(async () => {
  await producer.disconnect();
  await admin.disconnect();
});

async function createTopic(): Promise<string> {
  const topic = `th-backfill-${randomBytes(4).toString('hex')}`;
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  return topic;
}

/** Record i goes to partition i % 3, so its offset is floor(i / 3) (one idempotent producer, in order). */
async function produce(topic: string, from: number, count: number, timestamp = timeOf): Promise<void> {
  for (let start = from; start < from + count; start += 300) {
    const messages: Message[] = [];
    for (let i = start; i < Math.min(from + count, start + 300); i++)
      messages.push({
        partition: i % partitions,
        value: JSON.stringify({ n: i }),
        timestamp: String(timestamp(i)),
      });
    await producer.send({ topic, acks: -1, messages });
  }
}

const idOf = (topic: string, i: number) =>
  kafkaEventId(topic, i % partitions, String(Math.floor(i / partitions)));

function idsOf(topic: string, from: number, to: number): Set<string> {
  const out = new Set<string>();
  for (let i = from; i < to; i++) out.add(idOf(topic, i));
  return out;
}

function kafkaTrigger(namespace: string, topic: string, url: string, groupId: string) {
  return triggerDoc(namespace, 'etl', {
    source: {
      kafka: { brokers: brokers(), topics: [topic], groupId, startFrom: 'earliest', sessionTimeoutMs: 6000 },
    },
    target: { http: { url } },
    delivery: { retries: 2, concurrency: 4, backoff: { initialMs: 50, maxMs: 500 } },
  });
}

const backfillsOf = (sink: Sink, id: string): Received[] =>
  sink.received.filter((entry) => entry.headers['ce-backfill'] === id);
const liveOf = (sink: Sink): Received[] =>
  sink.received.filter((entry) => entry.headers['ce-backfill'] === undefined);

async function startBackfill(url: string, namespace: string, body: unknown): Promise<BackfillProgress> {
  const { status, body: answer } = await api<{ backfill: BackfillProgress }>(
    url,
    'POST',
    `/api/triggers/${namespace}/etl/backfills`,
    body,
  );
  expect(status, JSON.stringify(answer)).toBe(201);
  return answer.backfill;
}

async function backfillState(url: string, namespace: string, id: string): Promise<BackfillProgress> {
  return (
    await api<{ backfill: BackfillProgress }>(url, 'GET', `/api/triggers/${namespace}/etl/backfills/${id}`)
  ).body.backfill;
}

async function committed(groupId: string, topic: string): Promise<number[]> {
  const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return offsets!.partitions.sort((a, b) => a.partition - b.partition).map((p) => Number(p.offset));
}

async function highWatermarks(topic: string): Promise<number[]> {
  return (await admin.fetchTopicOffsets(topic))
    .sort((a, b) => a.partition - b.partition)
    .map((p) => Number(p.high));
}

/** The most deliveries seen in any one-second window: an upper bound, so a slow machine cannot fail it. */
function busiestSecond(entries: Received[]): number {
  const times = entries.map((entry) => entry.at).sort((a, b) => a - b);
  let most = 0;
  for (let first = 0, last = 0; last < times.length; last++) {
    while (times[last]! - times[first]! >= 1000) first++;
    most = Math.max(most, last - first + 1);
  }
  return most;
}

describe('kafka backfill', () => {
  const total = 3000;
  const window = { from: 1000, to: 1600 };
  let topic: string;
  let namespace: string;
  let groupId: string;
  let sink: Sink;
  let hub: Hub;

  beforeAll(async () => {
    topic = await createTopic();
    namespace = uniqueNamespace('bf');
    groupId = `th-test-${randomBytes(4).toString('hex')}`;
    sink = await startSink();
    await produce(topic, 0, total);
    hub = await startTestHub([kafkaTrigger(namespace, topic, sink.url, groupId)]);
    const expected = idsOf(topic, 0, total);
    await sink.waitFor(() => [...expected].every((id) => sink.delivered.has(id)), 120_000, 'live delivery');
    await waitFor(
      async () =>
        JSON.stringify(await committed(groupId, topic)) === JSON.stringify(await highWatermarks(topic)),
      60_000,
      'the live group to commit everything',
    );
  });

  afterAll(async () => {
    await hub?.close();
    await sink?.close();
  });

  it('delivers a time window again exactly, marked, with the same ids, while live traffic flows and the live offsets move only by live reads', async () => {
    const before = await committed(groupId, topic);
    const rate = 200;
    const backfill = await startBackfill(hub.url, namespace, {
      from: new Date(timeOf(window.from)).toISOString(),
      to: new Date(timeOf(window.to)).toISOString(),
      rate,
    });
    expect(backfill.status).toBe('running');
    expect(backfill.estimate).toBe(window.to - window.from);
    // Live traffic while the backfill runs: 600 more records with current timestamps.
    const liveTraffic = (async () => {
      for (let i = total; i < total + 600; i += 30) {
        await produce(topic, i, 30, () => Date.now());
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    const samples: number[][] = [];
    await waitFor(
      async () => {
        samples.push(await committed(groupId, topic));
        return (await backfillState(hub.url, namespace, backfill.id)).status !== 'running';
      },
      120_000,
      'the backfill to end',
    );
    await liveTraffic;
    const done = await backfillState(hub.url, namespace, backfill.id);
    expect(done).toMatchObject({
      status: 'completed',
      read: 600,
      enqueued: 600,
      filtered: 0,
      readDone: true,
    });
    expect(done.delivered).toBeGreaterThanOrEqual(600);

    const replayed = backfillsOf(sink, backfill.id);
    const expected = idsOf(topic, window.from, window.to);
    expect(new Set(replayed.map((entry) => entry.id))).toEqual(expected);
    expect(replayed.length).toBe(expected.size); // each once: nothing outside the window, no duplicate
    const first = replayed.find((entry) => entry.id === idOf(topic, window.from))!;
    expect(first.headers['idempotency-key']).toBe(idOf(topic, window.from));
    expect(JSON.parse(first.body.toString())).toEqual({ n: window.from });
    // The limiter counts fixed windows of a second, so a sliding second may span two of them; and 600 events
    // at 200/s cannot all land in less than two seconds. Both bounds only fail if the limiter is not applied.
    expect(busiestSecond(replayed)).toBeLessThanOrEqual(2 * rate);
    const times = replayed.map((entry) => entry.at);
    expect(Math.max(...times) - Math.min(...times)).toBeGreaterThanOrEqual((600 / rate - 1) * 1000);

    const live = idsOf(topic, total, total + 600);
    await sink.waitFor(() => [...live].every((id) => sink.delivered.has(id)), 60_000, 'live traffic');
    expect(liveOf(sink).filter((entry) => live.has(entry.id!)).length).toBeGreaterThanOrEqual(600);
    // The live group's offsets only ever moved forward (by its own reads) and end at the end of the log;
    // the backfill's throwaway group is gone.
    for (const sample of [before, ...samples])
      for (const [index, offset] of sample.entries()) expect(offset).toBeGreaterThanOrEqual(before[index]!);
    await waitFor(
      async () =>
        JSON.stringify(await committed(groupId, topic)) === JSON.stringify(await highWatermarks(topic)),
      60_000,
      'the live group to commit the live traffic',
    );
    const groups = (await admin.listGroups()).groups.map((group) => group.groupId);
    expect(groups.filter((id) => id.startsWith(`trigger-hub-backfill.${namespace}.`))).toEqual([]);
  });

  it('a dry run counts the window and delivers nothing', async () => {
    const delivered = sink.received.length;
    const backfill = await startBackfill(hub.url, namespace, {
      from: new Date(timeOf(200)).toISOString(),
      to: new Date(timeOf(500)).toISOString(),
      dryRun: true,
    });
    await waitFor(
      async () => (await backfillState(hub.url, namespace, backfill.id)).status !== 'running',
      60_000,
      'the dry run to end',
    );
    const done = await backfillState(hub.url, namespace, backfill.id);
    expect(done).toMatchObject({
      status: 'completed',
      dryRun: true,
      estimate: 300,
      read: 300,
      enqueued: 300,
    });
    expect(backfillsOf(sink, backfill.id)).toEqual([]);
    expect(sink.received.slice(delivered).filter((entry) => entry.headers['ce-backfill'])).toEqual([]);
  });

  it('explicit positions; cancel stops it and removes what was not delivered', async () => {
    const backfill = await startBackfill(hub.url, namespace, {
      from: '0:0,1:0,2:0',
      to: '0:400,1:400,2:400',
      rate: 20,
    });
    expect(backfill.estimate).toBe(1200);
    await sink.waitFor(() => backfillsOf(sink, backfill.id).length >= 10, 60_000, 'some backfill deliveries');
    const { status, body } = await api<{ backfill: BackfillProgress }>(
      hub.url,
      'DELETE',
      `/api/triggers/${namespace}/etl/backfills/${backfill.id}`,
    );
    expect(status).toBe(200);
    expect(body.backfill.status).toBe('cancelled');
    const atCancel = backfillsOf(sink, backfill.id).length;
    await new Promise((resolve) => setTimeout(resolve, 3000));
    // In-flight deliveries (at most the trigger's concurrency) may still land; nothing else does.
    expect(backfillsOf(sink, backfill.id).length).toBeLessThanOrEqual(atCancel + 4);
    expect(backfillsOf(sink, backfill.id).length).toBeLessThan(1200);
    // The cancelled one no longer blocks a new backfill of the trigger.
    const next = await startBackfill(hub.url, namespace, { from: '0:0', to: '0:3', dryRun: true });
    await waitFor(
      async () => (await backfillState(hub.url, namespace, next.id)).status === 'completed',
      60_000,
      'the next backfill to complete',
    );
  });

  it('what a backfill dead-letters is listed apart from live dead letters and replayed into the live queue (API, dashboard, CLI)', async () => {
    type Page = {
      count: number;
      entries: Array<{ jobId: string; event: { id: string; backfill?: string }; reason: string }>;
    };
    const trigger = `${namespace}/etl`;
    const rejected = new Set([idOf(topic, 2000), idOf(topic, 2005), idOf(topic, 2010)]);
    const replayedOk = (backfillId: string, id: string) =>
      backfillsOf(sink, backfillId).some((entry) => entry.id === id && entry.answered === 200);
    sink.respond = (request) =>
      request.headers['ce-backfill'] && rejected.has(request.id ?? '')
        ? { status: 400, body: 'refused by the test' }
        : { status: 200 };
    try {
      const backfill = await startBackfill(hub.url, namespace, {
        from: new Date(timeOf(2000)).toISOString(),
        to: new Date(timeOf(2012)).toISOString(),
      });
      await waitFor(
        async () => (await backfillState(hub.url, namespace, backfill.id)).status !== 'running',
        60_000,
        'the backfill to end',
      );
      expect(await backfillState(hub.url, namespace, backfill.id)).toMatchObject({
        status: 'completed',
        delivered: 9,
        deadLettered: 3,
      });

      const listed = await api<Page>(hub.url, 'GET', `/api/dlq/${trigger}/backfill`);
      expect(listed.status).toBe(200);
      expect(listed.body.count).toBe(3);
      expect(listed.body.entries.map((entry) => entry.event.id).sort()).toEqual([...rejected].sort());
      expect(listed.body.entries.map((entry) => entry.event.backfill)).toEqual([
        backfill.id,
        backfill.id,
        backfill.id,
      ]);
      expect(listed.body.entries[0]!.reason).toContain('400');
      // The live dead-letter queue holds live events only.
      const live = await api<Page>(hub.url, 'GET', `/api/dlq/${trigger}`);
      expect(live.body.entries.filter((entry) => rejected.has(entry.event.id))).toEqual([]);

      sink.respond = () => ({ status: 200 });
      const first = listed.body.entries[0]!;
      const one = await api<{ replayed: number }>(hub.url, 'POST', `/api/dlq/${trigger}/backfill/replay`, {
        jobIds: [first.jobId],
      });
      expect(one.body.replayed).toBe(1);
      await sink.waitFor(() => replayedOk(backfill.id, first.event.id), 30_000, 'the replayed dead letter');

      // The dashboard shows the other two apart from live dead letters, and replays one of them.
      type Details = { backfillDeadLetterCount: number; backfillDeadLetterEntries: Page['entries'] };
      const details = (await (await fetch(`${hub.url}/dashboard/api/triggers/${trigger}`)).json()) as Details;
      expect(details.backfillDeadLetterCount).toBe(2);
      const second = details.backfillDeadLetterEntries[0]!;
      expect(second.event.backfill).toBe(backfill.id);
      const fromDashboard = await fetch(`${hub.url}/dashboard/api/dlq/${trigger}/backfill/replay`, {
        method: 'POST',
        headers: { 'x-trigger-hub': '1', 'content-type': 'application/json' },
        body: JSON.stringify({ jobIds: [second.jobId] }),
      });
      expect(await fromDashboard.json()).toEqual({ replayed: 1 });
      await sink.waitFor(() => replayedOk(backfill.id, second.event.id), 30_000, 'the dashboard replay');

      const cliList = await runCli(['dlq', 'list', trigger, '--backfill', '--output', 'json']);
      expect(cliList.code, cliList.stderr).toBe(0);
      expect((JSON.parse(cliList.stdout) as Page).count).toBe(1);
      const cliReplay = await runCli(['dlq', 'replay', trigger, '--backfill', '--all']);
      expect(cliReplay.code, cliReplay.stderr).toBe(0);
      expect(cliReplay.stdout).toContain(`replayed 1 event(s) of ${trigger}'s backfills`);
      await sink.waitFor(
        () => [...rejected].every((id) => replayedOk(backfill.id, id)),
        30_000,
        'every replayed dead letter',
      );
      expect((await api<Page>(hub.url, 'GET', `/api/dlq/${trigger}/backfill`)).body.count).toBe(0);
      // Each was delivered once more after its replay, not more.
      for (const id of rejected)
        expect(backfillsOf(sink, backfill.id).filter((entry) => entry.id === id)).toHaveLength(2);
    } finally {
      sink.respond = () => ({ status: 200 });
    }
  });

  it('the CLI prints progress until done, lists backfills and cancels one', async () => {
    const trigger = `${namespace}/etl`;
    const dry = await runCli([
      'backfill',
      trigger,
      '--from',
      new Date(timeOf(0)).toISOString(),
      '--to',
      new Date(timeOf(90)).toISOString(),
      '--dry-run',
      '--url',
      hub.url,
    ]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/completed \(dry run\): 90 of ~90 records read, 90 would be delivered/);
    expect(dry.stderr).toContain(`trigger-hub backfill cancel ${trigger} bf`);
    const started = await runCli([
      'backfill',
      trigger,
      '--from',
      '1:0',
      '--rate',
      '1',
      '--detach',
      '--url',
      hub.url,
    ]);
    expect(started.code, started.stderr).toBe(0);
    const id = started.stdout.trim();
    const listed = await runCli(['backfill', 'list', trigger, '--url', hub.url]);
    expect(listed.stdout).toMatch(new RegExp(`${id}\\s+running`));
    const cancelled = await runCli(['backfill', 'cancel', trigger, id, '--url', hub.url]);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect(cancelled.stdout).toContain(`${id} cancelled (cancelled by request)`);
    const unsupported = await runCli(['backfill', 'nope/etl', '--from', '0:0', '--url', hub.url]);
    expect(unsupported.code).toBe(1);
    expect(unsupported.stderr).toContain('TH_ERR_UNKNOWN_TRIGGER');
  });

  it('refuses a second running backfill, a bad range and an unknown trigger with clear codes', async () => {
    const slow = await startBackfill(hub.url, namespace, { from: '0:0', to: '0:1000', rate: 1 });
    const second = await api<{ code: string; message: string }>(
      hub.url,
      'POST',
      `/api/triggers/${namespace}/etl/backfills`,
      { from: '0:0' },
    );
    expect(second.status).toBe(409);
    expect(second.body.code).toBe('TH_ERR_BACKFILL_CONFLICT');
    await api(hub.url, 'DELETE', `/api/triggers/${namespace}/etl/backfills/${slow.id}`);
    for (const [body, field] of [
      [{}, 'from'],
      [{ from: '2026-13-45' }, 'from'],
      [{ from: 'x:y' }, 'from'],
      [{ from: '0:0', rate: 0 }, 'rate'],
      [{ from: '0:0', speed: 3 }, 'speed'],
    ] as const) {
      const answer = await api<{ code: string; message: string }>(
        hub.url,
        'POST',
        `/api/triggers/${namespace}/etl/backfills`,
        body,
      );
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.body.code).toBe('TH_ERR_BAD_REQUEST');
      expect(answer.body.message.startsWith(`${field}:`) || answer.body.message.includes(`${field}:`)).toBe(
        true,
      );
    }
    const unknown = await api<{ code: string }>(hub.url, 'POST', '/api/triggers/nope/etl/backfills', {
      from: '0:0',
    });
    expect(unknown.status).toBe(404);
  });
});

describe('sources that cannot be replayed', () => {
  it('a webhook trigger gets TH_ERR_BACKFILL_UNSUPPORTED (422)', async () => {
    const namespace = uniqueNamespace('bf');
    const hub = await startTestHub([
      triggerDoc(namespace, 'hook', {
        source: { webhook: {} },
        target: { http: { url: 'http://127.0.0.1:9/' } },
      }),
    ]);
    try {
      const answer = await api<{ code: string; message: string }>(
        hub.url,
        'POST',
        `/api/triggers/${namespace}/hook/backfills`,
        { from: '2026-11-01T00:00:00Z' },
      );
      expect(answer.status).toBe(422);
      expect(answer.body.code).toBe('TH_ERR_BACKFILL_UNSUPPORTED');
      expect(answer.body.message).toContain('not replayable at the source');
    } finally {
      await hub.close();
    }
  });
});

describe('a SIGKILLed hub', () => {
  it('resumes the backfill on restart and completes it without re-delivering what was delivered', async () => {
    const topic = await createTopic();
    const namespace = uniqueNamespace('bf');
    const groupId = `th-test-${randomBytes(4).toString('hex')}`;
    const sink = await startSink();
    await produce(topic, 0, 900);
    const dir = writeTriggerDir([kafkaTrigger(namespace, topic, sink.url, groupId)]);
    const port = await freePort();
    let hub = await spawnHub(dir, port);
    try {
      const all = idsOf(topic, 0, 900);
      await sink.waitFor(() => [...all].every((id) => sink.delivered.has(id)), 120_000, 'live delivery');
      const backfill = await startBackfill(hub.url, namespace, {
        from: new Date(timeOf(100)).toISOString(),
        to: new Date(timeOf(700)).toISOString(),
        rate: 60,
      });
      await sink.waitFor(() => backfillsOf(sink, backfill.id).length >= 150, 60_000, 'part of the backfill');
      hub.child.kill('SIGKILL');
      await hub.exited;
      const atKill = new Set(backfillsOf(sink, backfill.id).map((entry) => entry.id));
      hub = await spawnHub(dir, port);
      await waitFor(
        async () => (await backfillState(hub.url, namespace, backfill.id)).status !== 'running',
        180_000,
        'the resumed backfill to end',
      );
      const done = await backfillState(hub.url, namespace, backfill.id);
      expect(done).toMatchObject({ status: 'completed', read: 600, enqueued: 600 });
      const replayed = backfillsOf(sink, backfill.id);
      const expected = idsOf(topic, 100, 700);
      expect(new Set(replayed.map((entry) => entry.id))).toEqual(expected);
      expect(atKill.size).toBeLessThan(expected.size); // it really was interrupted
      // Only deliveries in flight at the kill (at most the trigger's concurrency) may come twice.
      const twice = [...expected].filter((id) => replayed.filter((entry) => entry.id === id).length > 1);
      console.log(
        `SIGKILL resume: ${atKill.size} delivered before the kill, ${twice.length} delivered twice`,
      );
      expect(twice.length).toBeLessThanOrEqual(4);
    } finally {
      hub.child.kill('SIGKILL');
      await hub.exited;
      await sink.close();
    }
  });
});
