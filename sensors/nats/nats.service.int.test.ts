import { randomUUID } from 'node:crypto';
import { AckPolicy, connect, type NatsConnection, StorageType, StringCodec } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceEnv } from '../../test/setup/env.ts';

describe('nats with JetStream', () => {
  const sc = StringCodec();
  const stream = `SMOKE_${randomUUID().replaceAll('-', '')}`;
  let nc: NatsConnection;

  beforeAll(async () => {
    nc = await connect({ servers: serviceEnv('TH_NATS_URL').TH_NATS_URL });
  });
  afterAll(async () => {
    await (await nc.jetstreamManager()).streams.delete(stream).catch(() => undefined);
    await nc.drain();
  });

  it('publishes to a file-backed stream and a durable pull consumer acks what it got', async () => {
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: stream, subjects: [`${stream}.>`], storage: StorageType.File });
    const js = nc.jetstream();
    const acks = [];
    for (const i of [1, 2, 3]) acks.push(await js.publish(`${stream}.events`, sc.encode(`event ${i}`)));
    expect(acks.map((a) => a.seq)).toEqual([1, 2, 3]);
    expect(acks.every((a) => a.stream === stream && !a.duplicate)).toBe(true);

    await jsm.consumers.add(stream, { durable_name: 'smoke', ack_policy: AckPolicy.Explicit });
    const consumer = await js.consumers.get(stream, 'smoke');
    const seen: string[] = [];
    for (let i = 0; i < 3; i++) {
      const msg = await consumer.next({ expires: 5000 });
      expect(msg).not.toBeNull();
      seen.push(sc.decode(msg!.data));
      expect(msg!.info.streamSequence).toBe(i + 1);
      // Acknowledged and confirmed by the server: the position a sensor would move its checkpoint to.
      expect(await msg!.ackAck()).toBe(true);
    }
    expect(seen).toEqual(['event 1', 'event 2', 'event 3']);

    const info = await jsm.consumers.info(stream, 'smoke');
    expect(info.num_ack_pending).toBe(0);
    expect(info.ack_floor.stream_seq).toBe(3);
    expect(await consumer.next({ expires: 1000 })).toBeNull();
  });
});
