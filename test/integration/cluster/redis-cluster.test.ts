import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../../../src/hub.ts';
import { startTestHub, triggerDoc, uniqueNamespace } from '../../support/hub.ts';
import { postMany } from '../../support/post.ts';
import { type Sink, startSink } from '../../support/sink.ts';

const seeds = () => {
  const nodes = process.env.TH_REDIS_CLUSTER_NODES;
  if (!nodes)
    throw new Error('TH_REDIS_CLUSTER_NODES is not set: the service stack runs the 3-master cluster');
  return nodes.split(',');
};

describe('on a 3-master Redis Cluster', () => {
  let sink: Sink;
  let hub: Hub;
  const ns = uniqueNamespace('cluster');
  const names = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta'];

  beforeAll(async () => {
    sink = await startSink();
    hub = await startTestHub(
      names.map((name) =>
        triggerDoc(ns, name, { source: { webhook: {} }, target: { http: { url: sink.url } } }),
      ),
      { redisUrl: undefined, redisClusterNodes: seeds() },
    );
  });

  afterAll(async () => {
    await hub?.close();
    await sink?.close();
  });

  it('delivers every event of triggers spread over the slots, and de-duplicates re-sent ids', async () => {
    for (const name of names) {
      const url = `${hub.url}/webhooks/${ns}/${name}`;
      const results = await postMany(url, 300, {
        headersFor: (i) => ({ 'idempotency-key': `${name}-${i}` }),
      });
      expect(results.filter((r) => r.status !== 202).slice(0, 3)).toEqual([]);
    }
    await sink.waitFor(() => sink.delivered.size === names.length * 300, 120_000, 'all deliveries');
    await postMany(`${hub.url}/webhooks/${ns}/alpha`, 300, {
      headersFor: (i) => ({ 'idempotency-key': `alpha-${i}` }),
    });
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(sink.received.length).toBe(names.length * 300);
  });

  it('keeps each trigger in one slot and spreads triggers over more than one master', async () => {
    const cluster = new Cluster(
      seeds().map((seed) => ({ host: seed.split(':')[0]!, port: Number(seed.split(':')[1]) })),
    );
    try {
      await new Promise((resolve) => cluster.once('ready', resolve)); // nodes() is empty until then
      const masters = new Set<string>();
      for (const name of names) {
        const keys: string[] = [];
        for (const node of cluster.nodes('master')) {
          const found = await node.keys(`th:{${ns}/${name}}:*`);
          if (found.length) {
            keys.push(...found);
            masters.add(`${node.options.host}:${node.options.port}`);
          }
        }
        expect(keys.length).toBeGreaterThan(0);
        const slots = new Set(await Promise.all(keys.map((key) => cluster.call('CLUSTER', 'KEYSLOT', key))));
        expect(slots.size).toBe(1);
      }
      expect(masters.size).toBeGreaterThan(1);
    } finally {
      cluster.disconnect();
    }
  });
});
