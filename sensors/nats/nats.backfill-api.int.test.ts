// Backfill of a JetStream trigger through the hub's API: a time window is delivered again, marked as
// backfill, with the ids the live stream gave them; the live durable consumer is untouched.
// (The reader alone: nats.backfill.int.test.ts.)

import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from 'nats';
import { afterAll, describe, expect, it } from 'vitest';
import type { Hub } from '../../src/hub.ts';
import { backfillWindow } from '../../test/support/backfill.ts';
import { startTestHub, triggerDoc, uniqueNamespace } from '../../test/support/hub.ts';
import { type Sink, startSink } from '../../test/support/sink.ts';
import { waitFor } from '../../test/support/wait.ts';

describe('backfill end to end', () => {
  let hub: Hub | undefined;
  let sink: Sink | undefined;
  afterAll(async () => {
    await hub?.close();
    await sink?.close();
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
});
