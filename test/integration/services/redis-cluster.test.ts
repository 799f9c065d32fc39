import { randomUUID } from 'node:crypto';
import { Cluster } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { serviceEnv } from '../../setup/env.ts';

describe('redis cluster (3 masters)', () => {
  const nodes = serviceEnv('TH_REDIS_CLUSTER_NODES')
    .TH_REDIS_CLUSTER_NODES.split(',')
    .map((hp) => {
      const [host, port] = hp.split(':');
      return { host: host!, port: Number(port) };
    });
  const cluster = new Cluster(nodes, { redisOptions: { maxRetriesPerRequest: 2 } });
  afterAll(() => cluster.quit());

  it('has three masters sharing all 16384 slots', async () => {
    const info = (await cluster.cluster('INFO')) as string;
    expect(info).toContain('cluster_state:ok');
    expect(info).toContain('cluster_slots_ok:16384');
    expect(info).toContain('cluster_size:3');
  });

  it('routes keys across the masters, and hash-tagged keys to one slot', async () => {
    const id = randomUUID();
    const keys = Array.from({ length: 30 }, (_, i) => `smoke:${id}:${i}`);
    for (const k of keys) await cluster.set(k, k, 'EX', 60);
    for (const k of keys) expect(await cluster.get(k)).toBe(k);
    const owners = new Set(
      await Promise.all(keys.map(async (k) => Number(await cluster.cluster('KEYSLOT', k)) >> 12)),
    );
    expect(owners.size).toBeGreaterThan(1);
    // A multi-key command works only when every key hashes to the same slot: the reason for {hash tags}.
    await cluster.mset(`{${id}}:a`, '1', `{${id}}:b`, '2');
    expect(await cluster.mget(`{${id}}:a`, `{${id}}:b`)).toEqual(['1', '2']);
  });
});
