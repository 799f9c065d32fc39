// Sources restarted mid-stream: Kafka, the NATS server (JetStream), kinesalite (its data kept on disk), MinIO
// (its webhook target's queue_dir kept) and kube-apiserver (etcd keeps running) each go down and come back
// while events flow; the hub reconnects and resumes from its checkpoints (MinIO re-sends what it kept).

import { describe, expect, it } from 'vitest';
import { envNumber, faultInstances } from './support/instances.ts';
import type { Ledger } from './support/ledger.ts';
import { runScenario, type SourceKind } from './support/scenario.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const rate = envNumber('TH_FAULT_RATE', 25);

describe('source brokers restarted mid-stream', () => {
  const cases: Array<[string, SourceKind, 'kafka' | 'nats' | 'kinesalite' | 'minio' | 'kube-apiserver']> = [
    ['Kafka broker restarted mid-stream', 'kafka', 'kafka'],
    ['NATS server restarted mid-stream (JetStream)', 'jetstream', 'nats'],
    ['kinesalite restarted mid-stream (Kinesis)', 'kinesis', 'kinesalite'],
    ['MinIO restarted mid-stream (webhook target, queue_dir)', 'minio', 'minio'],
    ['kube-apiserver restarted mid-stream (ConfigMap watch)', 'watch', 'kube-apiserver'],
  ];
  for (const [name, source, server] of cases) {
    it(`${name}: nothing lost`, async () => {
      const instance = faultInstances()[server];
      await runScenario({ name, sources: [source], rate, fault: () => instance.restart() });
    });
  }
});

/** Compacts etcd's history up to now (what kube-apiserver's own compactor does every 5 minutes). */
async function compactEtcd(url: string): Promise<number> {
  const call = async (path: string, body: unknown) => {
    const response = await fetch(`${url}${path}`, { method: 'POST', body: JSON.stringify(body) });
    if (!response.ok) throw new Error(`etcd ${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as { header: { revision: string } };
  };
  const { header } = await call('/v3/maintenance/status', {});
  await call('/v3/kv/compaction', { revision: header.revision, physical: true });
  return Number(header.revision);
}

describe('kube-apiserver restarted after its history was compacted', () => {
  it('the watch relists (410 Gone) and delivers what it missed as synthetic events: nothing lost', async () => {
    const { etcd, 'kube-apiserver': apiserver } = faultInstances();
    let ledger: Ledger | undefined;
    await runScenario({
      name: 'kube-apiserver restarted, etcd compacted while the hub was down (watch relist)',
      sources: ['watch'],
      rate,
      async fault(context) {
        ledger = context.ledger;
        // The hub stops (cleanly); objects keep being created that its watch never sees …
        context.hub.child.kill('SIGTERM');
        await context.hub.exited;
        await sleep(1500);
        // … then the API server restarts on a compacted history, so the checkpoint is too old: 410 Gone.
        await apiserver.stop();
        const revision = await compactEtcd(etcd.url);
        console.log(`etcd compacted at revision ${revision}`);
        await apiserver.start();
        await context.restartHub();
      },
    });
    // Those objects came from the relist, marked synthetic; the scenario counted them as delivered by id.
    const relisted = ledger!.sink.received.filter((r) => r.headers['ce-k8ssynthetic'] === 'relist');
    expect(relisted.length).toBeGreaterThan(0);
  });
});
