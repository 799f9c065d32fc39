import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { triggerStateKey } from '../../src/queue/keys.ts';
import type { SensorState } from '../../src/sensor/sensor.ts';
import { uniqueNamespace } from '../../test/support/hub.ts';
import { ShardLeases, shardEnd } from './leases.ts';
import { sleep, testRedis } from './test-support.ts';

describe('kinesis shard leases in Redis', () => {
  let redis: Redis;
  let state: SensorState;

  beforeEach(() => {
    redis = testRedis();
    const trigger = { key: `${uniqueNamespace('kin')}/leases` };
    state = { redis, key: (...parts) => triggerStateKey(trigger, ...parts) };
  });

  afterEach(() => {
    redis.disconnect();
  });

  it('one holder per shard; a lease that expired goes to the next worker', async () => {
    const a = new ShardLeases(state, 'orders', 'worker-a', 2000);
    const b = new ShardLeases(state, 'orders', 'worker-b', 2000);
    expect(await a.acquire('shardId-000000000000')).toBe(true);
    expect(await b.acquire('shardId-000000000000')).toBe(false);
    expect(await b.renew('shardId-000000000000')).toBe(false);
    expect(await a.renew('shardId-000000000000')).toBe(true);
    await sleep(2300);
    expect(await b.acquire('shardId-000000000000')).toBe(true);
    expect(await a.renew('shardId-000000000000')).toBe(false);
    expect((await a.owners(['shardId-000000000000'])).get('shardId-000000000000')).toBe('worker-b');
  });

  it('a worker that lost its lease cannot move the checkpoint of the worker that took over', async () => {
    const a = new ShardLeases(state, 'orders', 'worker-a', 2000);
    const b = new ShardLeases(state, 'orders', 'worker-b', 10_000);
    expect(await a.acquire('s1')).toBe(true);
    expect(await a.checkpoint('s1', '100')).toBe(true);
    await sleep(2300);
    expect(await b.acquire('s1')).toBe(true);
    expect(await b.checkpoint('s1', '300')).toBe(true);
    expect(await a.checkpoint('s1', '200')).toBe(false);
    expect((await b.checkpoints()).s1).toBe('300');
    // Releasing is also only for the holder.
    await a.release('s1');
    expect((await b.owners(['s1'])).get('s1')).toBe('worker-b');
    await b.release('s1');
    expect((await b.owners(['s1'])).get('s1')).toBeUndefined();
  });

  it('heartbeats list the live workers only; marking finished keeps checkpoints; the first start stands', async () => {
    const a = new ShardLeases(state, 'orders', 'worker-a', 2000);
    const b = new ShardLeases(state, 'orders', 'worker-b', 2000);
    await a.heartbeat();
    expect(await b.heartbeat()).toEqual(['worker-a', 'worker-b']);
    await sleep(2300);
    expect(await b.heartbeat()).toEqual(['worker-b']);

    await b.acquire('s1');
    await b.checkpoint('s1', '42');
    await b.markFinished(['s0', 's1']);
    expect(await b.checkpoints()).toEqual({ s0: shardEnd, s1: '42' });

    expect(await a.started()).toBeUndefined();
    expect(await a.markStarted(1000)).toBe(1000);
    expect(await b.markStarted(2000)).toBe(1000);
    expect(await b.started()).toBe(1000);
  });
});
