// Load generators of the fault suite: each produces events with a unique `fid` at a steady rate into one
// source, retrying what its source did not accept (as a real producer would), and records an event as
// produced only once its source accepted it (a 2xx from the webhook, a Kafka/JetStream/Kinesis ack).

import { randomBytes } from 'node:crypto';
import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { connect, type NatsConnection } from 'nats';
import { request } from 'undici';
import { createStream, kinesisClient } from '../../../sensors/kinesis/test-support.ts';
import { kubernetesEventId } from '../../../sensors/kubernetes/events.ts';
import { createNamespace } from '../../../sensors/kubernetes/test-support.ts';
import { ACCESS_KEY, SECRET_KEY, WEBHOOK_ARN, WEBHOOK_TOKEN } from '../../../sensors/minio/service.ts';
import { minioClient, subscribedBucket } from '../../../sensors/minio/test-support.ts';
import { KubeApiError, KubeClient, loadKubeConfig } from '../../../src/controller/kube-client.ts';
import { type TriggerDoc, triggerDoc } from '../../support/hub.ts';

export interface Load {
  name: string;
  produced: Set<string>;
  /** Answers or errors that made a producer retry (e.g. webhook 503s while Redis is away). */
  refused: Map<string, number>;
  /** Stops producing; resolves when every event under way was accepted. */
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const retryMs = 200;

/**
 * Calls `send(batch)` for `perTick` new fids every `tickMs` until stopped; a failed batch is retried with
 * the same fids until accepted (so every produced event is accepted once or, after an ambiguous failure,
 * more than once: never zero times). The ledger keys are the fids, or the keys `send` returns instead (a
 * source whose event ids only exist once it accepted the event: the Kubernetes watch).
 */
function steady(
  name: string,
  ledger: Set<string>,
  ratePerSecond: number,
  send: (fids: string[]) => Promise<unknown>,
): Load {
  const produced = new Set<string>();
  const refused = new Map<string, number>();
  const tickMs = 100;
  const perTick = Math.max(1, Math.round((ratePerSecond * tickMs) / 1000));
  const tag = randomBytes(3).toString('hex');
  let seq = 0;
  let stopped = false;
  const pending = new Set<Promise<void>>();
  const sendBatch = async (fids: string[]) => {
    for (;;) {
      try {
        const keys = await send(fids);
        for (const key of Array.isArray(keys) ? (keys as string[]) : fids) {
          produced.add(key);
          ledger.add(key);
        }
        return;
      } catch (error) {
        const reason = (error as Error).message.split('\n')[0]!.slice(0, 80);
        refused.set(reason, (refused.get(reason) ?? 0) + 1);
        await sleep(retryMs);
      }
    }
  };
  const loop = (async () => {
    while (!stopped) {
      const fids = Array.from({ length: perTick }, () => `${name}-${tag}-${seq++}`);
      const work = sendBatch(fids);
      pending.add(work);
      work.finally(() => pending.delete(work));
      await sleep(tickMs);
    }
  })();
  return {
    name,
    produced,
    refused,
    async stop() {
      stopped = true;
      await loop;
      await Promise.all(pending);
    },
  };
}

/** JSON events POSTed to a webhook, each with its fid as `Idempotency-Key` (the sender's delivery id). */
export function webhookLoad(url: string, ledger: Set<string>, ratePerSecond: number): Load {
  return steady('webhook', ledger, ratePerSecond, async (fids) => {
    await Promise.all(
      fids.map(async (fid) => {
        const response = await request(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': fid },
          body: JSON.stringify({ fid }),
          headersTimeout: 10_000,
          bodyTimeout: 10_000,
        });
        await response.body.text();
        if (response.statusCode !== 202) throw new Error(`webhook answered ${response.statusCode}`);
      }),
    );
  });
}

export interface SourceFixture {
  trigger: TriggerDoc;
  start(ledger: Set<string>, ratePerSecond: number): Load;
  close(): Promise<void>;
}

const delivery = { retries: 100, backoff: { initialMs: 100, maxMs: 2000 }, concurrency: 16 };

export async function kafkaSource(
  brokers: string,
  namespace: string,
  sinkUrl: string,
): Promise<SourceFixture> {
  const kafka = new Kafka({
    clientId: 'th-faults',
    brokers: [brokers],
    logLevel: logLevel.NOTHING,
    retry: { retries: 3 },
  });
  const topic = `th-faults-${randomBytes(4).toString('hex')}`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
  await admin.disconnect();
  let producer: Producer | undefined;
  const producerReady = async () => {
    if (!producer) {
      const next = kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
      });
      await next.connect();
      producer = next;
    }
    return producer;
  };
  return {
    trigger: triggerDoc(namespace, 'kafka', {
      source: {
        kafka: { brokers: [brokers], topics: [topic], startFrom: 'earliest', sessionTimeoutMs: 6000 },
      },
      target: { http: { url: sinkUrl } },
      delivery,
    }),
    start: (ledger, rate) =>
      steady('kafka', ledger, rate, async (fids) => {
        const p = await producerReady();
        try {
          await p.send({
            topic,
            acks: -1,
            messages: fids.map((fid, i) => ({ key: `k-${i}`, value: JSON.stringify({ fid }) })),
          });
        } catch (error) {
          // A producer that lost its broker may stay broken: a fresh one for the retry.
          producer = undefined;
          await p.disconnect().catch(() => {});
          throw error;
        }
      }),
    close: async () => {
      await producer?.disconnect().catch(() => {});
    },
  };
}

export async function jetStreamSource(
  url: string,
  namespace: string,
  sinkUrl: string,
): Promise<SourceFixture> {
  const nc: NatsConnection = await connect({
    servers: url,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
  });
  const stream = `THF_${randomBytes(4).toString('hex').toUpperCase()}`;
  const jsm = await nc.jetstreamManager();
  await jsm.streams.add({ name: stream, subjects: [`${stream.toLowerCase()}.>`] });
  const js = nc.jetstream();
  return {
    trigger: triggerDoc(namespace, 'jetstream', {
      source: { nats: { servers: [url], jetstream: { stream, ackWaitMs: 4000 } } },
      target: { http: { url: sinkUrl } },
      delivery,
    }),
    start: (ledger, rate) =>
      steady('jetstream', ledger, rate, async (fids) => {
        // msgID: a publish retried after a lost ack is de-duplicated by the stream.
        await Promise.all(
          fids.map((fid) =>
            js.publish(`${stream.toLowerCase()}.faults`, JSON.stringify({ fid }), {
              msgID: fid,
              timeout: 5000,
            }),
          ),
        );
      }),
    close: () => nc.close(),
  };
}

export async function kinesisSource(
  endpoint: string,
  namespace: string,
  sinkUrl: string,
): Promise<SourceFixture> {
  const client = kinesisClient(endpoint);
  const stream = `th-faults-${randomBytes(4).toString('hex')}`;
  await createStream(client, stream, 2);
  return {
    trigger: triggerDoc(namespace, 'kinesis', {
      source: {
        kinesis: {
          stream,
          region: 'us-east-1',
          endpoint,
          credentials: {
            accessKeyId: { env: 'TH_TEST_AWS_ACCESS_KEY_ID' },
            secretAccessKey: { env: 'TH_TEST_AWS_SECRET_ACCESS_KEY' },
          },
          startingPosition: 'TRIM_HORIZON',
          pollIntervalMs: 200,
          shardDiscoveryIntervalMs: 1000,
          leaseDurationMs: 3000,
        },
      },
      target: { http: { url: sinkUrl } },
      delivery,
    }),
    start: (ledger, rate) =>
      steady('kinesis', ledger, rate, async (fids) => {
        const output = await client.send(
          new PutRecordsCommand({
            StreamName: stream,
            Records: fids.map((fid, i) => ({
              Data: Buffer.from(JSON.stringify({ fid })),
              PartitionKey: `k-${i}`,
            })),
          }),
        );
        // Simplest honest retry: a partly failed batch is put again whole (the ones that landed become duplicates).
        if (output.FailedRecordCount) throw new Error(`${output.FailedRecordCount} records were not put`);
      }),
    close: async () => client.destroy(),
  };
}

/**
 * Objects put into a bucket of the private MinIO, whose webhook target posts to the hub's /webhooks/minio
 * (the trigger's path: the scenario's hub listens on the port the target posts to). A put is produced once
 * MinIO answered it; MinIO then owes the hub its notification (kept in its queue_dir until a 2xx).
 */
export async function minioSource(
  endpoint: string,
  namespace: string,
  sinkUrl: string,
): Promise<SourceFixture> {
  const client = minioClient(endpoint, ACCESS_KEY, SECRET_KEY);
  const bucket = await subscribedBucket(client, WEBHOOK_ARN);
  // The hub resolves the token from its environment (the hub processes inherit the test's).
  process.env.TH_FAULT_MINIO_TOKEN = WEBHOOK_TOKEN;
  return {
    // Filtered on the bucket: notifications left from an earlier scenario's bucket are acknowledged, skipped.
    trigger: triggerDoc(namespace, 'minio', {
      source: {
        minio: { path: 'minio', authToken: { env: 'TH_FAULT_MINIO_TOKEN' }, bucket, events: ['put'] },
      },
      target: { http: { url: sinkUrl } },
      delivery,
    }),
    start: (ledger, rate) =>
      steady('minio', ledger, rate, async (fids) => {
        await Promise.all(
          fids.map((fid) => client.putObject(bucket, fid, Buffer.from(JSON.stringify({ fid })))),
        );
      }),
    close: async () => {},
  };
}

/**
 * ConfigMaps created in a namespace of their own on the private kube-apiserver, watched for ADDED events. A
 * create is produced once the API server answered it; its key is the event id the hub must deliver
 * (uid, resourceVersion, ADDED), the same for the watch event and for a relist's synthetic ADDED.
 */
export async function watchSource(
  kubeconfig: string,
  namespace: string,
  sinkUrl: string,
): Promise<SourceFixture> {
  const client = new KubeClient(loadKubeConfig(kubeconfig));
  const k8sNamespace = await createNamespace(client, 'faults');
  const collection = `/api/v1/namespaces/${k8sNamespace}/configmaps`;
  const create = async (name: string) => {
    let object: { metadata?: { uid?: string; resourceVersion?: string } };
    try {
      object = await client.request('POST', collection, {
        body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { fid: name } },
      });
    } catch (error) {
      // A retried create whose first attempt landed: the object as created (nothing modifies it).
      if (!(error instanceof KubeApiError && error.status === 409)) throw error;
      object = await client.get(`${collection}/${name}`);
    }
    return kubernetesEventId(object.metadata!.uid!, object.metadata!.resourceVersion!, 'ADDED');
  };
  return {
    trigger: triggerDoc(namespace, 'watch', {
      source: {
        kubernetes: {
          kind: 'ConfigMap',
          namespace: k8sNamespace,
          eventTypes: ['ADDED'],
          // Creates may start before the first hub's initial list: those come as its synthetic ADDED.
          initialObjects: 'emit',
        },
      },
      target: { http: { url: sinkUrl } },
      delivery,
    }),
    start: (ledger, rate) => steady('watch', ledger, rate, (fids) => Promise.all(fids.map(create))),
    close: async () => {},
  };
}

export function webhookTrigger(namespace: string, sinkUrl: string): TriggerDoc {
  return triggerDoc(namespace, 'webhook', {
    source: { webhook: {} },
    target: { http: { url: sinkUrl } },
    delivery,
  });
}

/** A tick a second: what the hub wrote for it, it must deliver. */
export function cronTrigger(namespace: string, sinkUrl: string): TriggerDoc {
  return triggerDoc(namespace, 'cron', {
    source: { cron: { every: 1000 } },
    target: { http: { url: sinkUrl } },
    delivery,
  });
}
