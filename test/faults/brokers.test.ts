// Sources restarted mid-stream: Kafka, the NATS server (JetStream), kinesalite (its data kept on disk), MinIO
// (its webhook target's queue_dir kept) and kube-apiserver (etcd keeps running) each go down and come back
// while events flow; the hub reconnects and resumes from its checkpoints (MinIO re-sends what it kept).

import { describe, it } from 'vitest';
import { envNumber, faultInstances } from './support/instances.ts';
import { runScenario, type SourceKind } from './support/scenario.ts';

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
