import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EventInput } from '../../src/envelope/event.ts';
import { HubError } from '../../src/errors.ts';
import { triggerStateKey } from '../../src/queue/keys.ts';
import type { Sensor, SensorContext } from '../../src/sensor/sensor.ts';
import { uniqueNamespace } from '../../test/support/hub.ts';
import { sensorContext } from '../../test/support/sensor-context.ts';
import { waitFor } from '../../test/support/wait.ts';
import { createKinesisSensor } from './sensor.ts';
import { kinesisSpec } from './spec.ts';
import {
  createStream,
  deleteStreams,
  kinesisClient,
  kinesisEndpoint,
  putRecords,
  sleep,
  testRedis,
} from './test-support.ts';

// The sensor on its own, with an emit that fails the way the hub's does while Redis cannot take the events
// (a retriable TH_ERR_QUEUE_UNAVAILABLE): the checkpoint must not move until an emit resolved.
describe('kinesis checkpoints', () => {
  const client = kinesisClient();
  let redis: Redis;
  let sensor: Sensor | undefined;
  let abort: AbortController;

  beforeEach(() => {
    redis = testRedis();
    abort = new AbortController();
  });

  afterEach(async () => {
    abort.abort();
    await sensor?.stop();
    sensor = undefined;
    redis.disconnect();
    await deleteStreams(client);
  });

  it('are written only after emit resolved; a failing emit is retried with the same records', async () => {
    const ns = uniqueNamespace('kin');
    await createStream(client, ns, 1);
    const puts = await putRecords(client, ns, 0, 30);
    const trigger = { namespace: ns, name: 'checkpoints', key: `${ns}/checkpoints` };
    const checkpointKey = triggerStateKey(trigger, 'kinesis', ns, 'checkpoints');
    const attempts: string[][] = [];
    const durable: string[] = [];
    let failing = true;
    const context: SensorContext = sensorContext({
      trigger,
      emit: async (events: EventInput[]) => {
        attempts.push(events.map((event) => event.id));
        if (failing) throw new HubError('TH_ERR_QUEUE_UNAVAILABLE', 'events not enqueued: Redis is away');
        durable.push(...events.map((event) => event.id));
        return { enqueued: events.length, filtered: 0 };
      },
      log: pino({ level: 'silent' }),
      webhooks: { register: () => () => {} },
      state: { redis, key: (...parts) => triggerStateKey(trigger, ...parts) },
      signal: abort.signal,
    });
    const spec = kinesisSpec.parse({
      stream: ns,
      region: 'us-east-1',
      endpoint: kinesisEndpoint(),
      credentials: {
        accessKeyId: { env: 'TH_TEST_AWS_ACCESS_KEY_ID' },
        secretAccessKey: { env: 'TH_TEST_AWS_SECRET_ACCESS_KEY' },
      },
      startingPosition: 'TRIM_HORIZON',
      pollIntervalMs: 200,
      leaseDurationMs: 3000,
    });
    sensor = createKinesisSensor(spec, context);
    await sensor.start();

    await waitFor(async () => attempts.length >= 2, 60_000, 'two failed emits');
    expect(await redis.hgetall(checkpointKey)).toEqual({});
    expect(sensor.health().connected).toBe(false);

    failing = false;
    const shardId = puts[0]!.shardId;
    await waitFor(
      async () => (await redis.hget(checkpointKey, shardId)) === puts.at(-1)!.sequence,
      60_000,
      'the checkpoint',
    );
    // Every attempt carried the same batch, in shard order; it was accepted once.
    for (const attempt of attempts) expect(attempt).toEqual(puts.map((put) => put.id));
    expect(durable).toEqual(puts.map((put) => put.id));

    // A new reader resumes after the checkpoint: only the newer records are emitted.
    await sensor.stop();
    abort.abort();
    abort = new AbortController();
    const more = await putRecords(client, ns, 100, 5);
    durable.length = 0;
    sensor = createKinesisSensor(spec, { ...context, signal: abort.signal });
    await sensor.start();
    await waitFor(async () => durable.length >= 5, 60_000, 'the 5 newer records');
    await sleep(1000);
    expect(durable).toEqual(more.map((put) => put.id));
  }, 300_000);
});
