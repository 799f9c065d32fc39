// Backfill of a Kinesis trigger through the hub's API: a time window is delivered again, marked as
// backfill, with the ids the live stream gave them; the shard checkpoints are untouched.
// (The reader alone: kinesis.backfill.int.test.ts.)

import { afterAll, describe, expect, it } from 'vitest';
import type { Hub } from '../../src/hub.ts';
import { triggerStateKey } from '../../src/queue/keys.ts';
import { backfillWindow } from '../../test/support/backfill.ts';
import { startTestHub, uniqueNamespace } from '../../test/support/hub.ts';
import { type Sink, startSink } from '../../test/support/sink.ts';
import {
  createStream as createKinesisStream,
  deleteStreams,
  kinesisClient,
  kinesisTrigger,
  putRecords,
  sleep,
  testRedis,
} from './test-support.ts';

describe('backfill end to end', () => {
  let hub: Hub | undefined;
  let sink: Sink | undefined;
  afterAll(async () => {
    await hub?.close();
    await sink?.close();
    await deleteStreams(kinesisClient());
  });

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
