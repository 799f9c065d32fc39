// Backfill of a JetStream and a Kinesis trigger through the hub's API: a time window is delivered again,
// marked as backfill, with the ids the live stream gave them; the live durable consumer / the shard
// checkpoints are untouched. (Kafka: kafka-backfill.test.ts.)

import { randomBytes } from 'node:crypto';
import { connect } from 'nats';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createStream as createKinesisStream,
  deleteStreams,
  kinesisClient,
  kinesisTrigger,
  putRecords,
  sleep,
  testRedis,
} from '../../../sensors/kinesis/test-kinesis.ts';
import type { Hub } from '../../../src/hub.ts';
import { triggerStateKey } from '../../../src/queue/keys.ts';
import { api } from '../../support/backfill.ts';
import { startTestHub, triggerDoc, uniqueNamespace } from '../../support/hub.ts';
import { type Sink, startSink } from '../../support/sink.ts';
import { waitFor } from '../../support/wait.ts';

interface BackfillView {
  id: string;
  status: string;
  estimate?: number;
}

const backfilled = (sink: Sink, id: string) =>
  sink.received.filter((entry) => entry.headers['ce-backfill'] === id).map((entry) => entry.id!);

/** Backfills [from, to) of `namespace/etl` through the API; checks it completes and delivers exactly `expected`. */
async function backfillWindow(
  hub: Hub,
  sink: Sink,
  namespace: string,
  from: number,
  to: number,
  expected: string[],
): Promise<void> {
  const path = `/api/triggers/${namespace}/etl/backfills`;
  const started = await api<{ backfill: BackfillView }>(hub.url, 'POST', path, {
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
  });
  expect(started.status, JSON.stringify(started.body)).toBe(201);
  const id = started.body.backfill.id;
  await waitFor(
    async () =>
      (await api<{ backfill: BackfillView }>(hub.url, 'GET', `${path}/${id}`)).body.backfill.status !==
      'running',
    120_000,
    'backfill',
  );
  expect((await api<{ backfill: BackfillView }>(hub.url, 'GET', `${path}/${id}`)).body.backfill.status).toBe(
    'completed',
  );
  await waitFor(() => backfilled(sink, id).length >= expected.length, 60_000, 'backfill deliveries');
  expect(new Set(backfilled(sink, id))).toEqual(new Set(expected));
}

describe('backfill end to end', () => {
  let hub: Hub | undefined;
  let sink: Sink | undefined;
  afterAll(async () => {
    await hub?.close();
    await sink?.close();
    await deleteStreams(kinesisClient());
  });

  it('JetStream: a time window delivered again, marked, same ids; durable untouched', async () => {
    const nc = await connect({ servers: process.env.TH_NATS_URL! });
    const jsm = await nc.jetstreamManager();
    const stream = `TH_E2E_${randomBytes(3).toString('hex').toUpperCase()}`;
    await jsm.streams.add({ name: stream, subjects: [`${stream.toLowerCase()}.>`] });
    const js = nc.jetstream();
    const times: number[] = [];
    for (let i = 0; i < 2000; i += 100) {
      const acks = [];
      for (let j = i; j < i + 100; j++)
        acks.push(js.publish(`${stream.toLowerCase()}.x`, JSON.stringify({ n: j })));
      await Promise.all(acks);
      await sleep(20);
    }
    for (let seq = 1; seq <= 2000; seq++)
      times.push((await jsm.streams.getMessage(stream, { seq })).time.getTime());
    const namespace = uniqueNamespace('e2e');
    sink = await startSink();
    hub = await startTestHub([
      triggerDoc(namespace, 'etl', {
        source: { nats: { servers: [process.env.TH_NATS_URL!], jetstream: { stream } } },
        target: { http: { url: sink.url } },
      }),
    ]);
    await sink.waitFor(() => sink!.delivered.size >= 2000, 120_000, 'live');
    const durable = `trigger-hub_${namespace}_etl`;
    const state = async () => {
      const info = await jsm.consumers.info(stream, durable);
      return [info.delivered.stream_seq, info.ack_floor.stream_seq, info.num_pending, info.num_ack_pending];
    };
    await waitFor(async () => (await state())[3] === 0, 30_000, 'acks');
    const before = await state();
    const from = times[500]!;
    const to = times[1500]!;
    const expected = times
      .map((time, i) => ({ time, id: `jetstream/${stream}/${i + 1}` }))
      .filter((m) => m.time >= from && m.time < to)
      .map((m) => m.id);
    await backfillWindow(hub, sink, namespace, from, to, expected);
    expect(await state()).toEqual(before);
    const names: string[] = [];
    for await (const info of await jsm.consumers.list(stream)) names.push(info.name);
    expect(names).toEqual([durable]);
    await hub.close();
    await sink.close();
    hub = undefined;
    sink = undefined;
    await jsm.streams.delete(stream);
    await nc.drain();
  }, 300_000);

  it('Kinesis: a time window delivered again, marked, same ids; checkpoints untouched', async () => {
    const client = kinesisClient();
    const redis = testRedis();
    const namespace = uniqueNamespace('e2ek');
    const stream = namespace;
    await createKinesisStream(client, stream, 2);
    sink = await startSink();
    hub = await startTestHub([kinesisTrigger(namespace, 'etl', { stream, sinkUrl: sink.url })]);
    const puts = [];
    for (let i = 0; i < 2000; i += 100) {
      puts.push(...(await putRecords(client, stream, i, 100)));
      await sleep(20);
    }
    await sink.waitFor(() => sink!.delivered.size >= 2000, 120_000, 'live');
    const arrival = new Map(
      sink.received.map((entry) => [entry.id!, Date.parse(entry.headers['ce-time'] as string)]),
    );
    const key = triggerStateKey({ key: `${namespace}/etl` }, 'kinesis', stream, 'checkpoints');
    await sleep(1000);
    const before = await redis.hgetall(key);
    const from = arrival.get(puts[500]!.id)!;
    const to = arrival.get(puts[1500]!.id)!;
    const expected = puts
      .map((p) => p.id)
      .filter((pid) => arrival.get(pid)! >= from && arrival.get(pid)! < to);
    await backfillWindow(hub, sink, namespace, from, to, expected);
    expect(await redis.hgetall(key)).toEqual(before);
    redis.disconnect();
  }, 300_000);
});
