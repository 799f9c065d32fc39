// Shared by the MinIO integration tests and the latency measurement: the service stack's MinIO, a bucket
// subscribed to its TESTHUB webhook target, and the relay on the port that target posts to.
//
// MinIO's TESTHUB target posts to http://127.0.0.1:<TH_MINIO_WEBHOOK_PORT>/minio (sensors/minio/service.ts),
// while the hub serves push sources under /webhooks/<path>: the relay passes each request to the hub's
// /webhooks/minio unchanged and passes the hub's answer back unchanged (a 502 while the hub is down, as an
// ingress would), so MinIO sees exactly what the hub answered.

import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { Client, NotificationConfig, ObjectCreatedAll, ObjectRemovedAll, QueueConfig } from 'minio';
import { request } from 'undici';

export function setting(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: the integration project's global setup starts MinIO`);
  return value;
}

/** A client of the stack's MinIO, or of another one (the fault suite's private instance). */
export function minioClient(
  url = setting('TH_MINIO_ENDPOINT'),
  accessKey = setting('TH_MINIO_ACCESS_KEY'),
  secretKey = setting('TH_MINIO_SECRET_KEY'),
): Client {
  const endpoint = new URL(url);
  return new Client({
    endPoint: endpoint.hostname,
    port: Number(endpoint.port),
    useSSL: false,
    accessKey,
    secretKey,
    region: 'us-east-1',
  });
}

/** A fresh bucket whose created and removed events go to the TESTHUB webhook target. */
export async function subscribedBucket(
  client: Client,
  arn = setting('TH_MINIO_WEBHOOK_ARN'),
): Promise<string> {
  const bucket = `th-${randomBytes(5).toString('hex')}`;
  await client.makeBucket(bucket);
  const queue = new QueueConfig(arn);
  queue.addEvent(ObjectCreatedAll);
  queue.addEvent(ObjectRemovedAll);
  const config = new NotificationConfig();
  config.add(queue);
  await client.setBucketNotification(bucket, config);
  return bucket;
}

/** Runs `work` over `items` with at most `concurrency` in flight. */
export async function pool<T>(
  items: T[],
  concurrency: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

export interface Relay {
  /** The hub's base URL, or undefined while it is down. */
  target: string | undefined;
  /** Answers given to MinIO, by status. */
  statuses: Map<number, number>;
  /** Called with each request body as it arrives from MinIO. */
  onRequest?: (body: Buffer) => void;
  close(): Promise<void>;
}

export async function startRelay(): Promise<Relay> {
  const relay: Relay = { target: undefined, statuses: new Map(), close: async () => {} };
  const answer = (status: number, body: Buffer | string, contentType = 'application/json') => ({
    status,
    body,
    contentType,
  });
  const server: Server = createServer((incoming, outgoing) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', async () => {
      relay.onRequest?.(Buffer.concat(chunks));
      let result: { status: number; body: Buffer | string; contentType: string };
      const target = relay.target;
      if (target === undefined) result = answer(502, '{"message":"hub down"}');
      else {
        try {
          const headers: Record<string, string> = {};
          for (const name of ['authorization', 'content-type'])
            if (typeof incoming.headers[name] === 'string') headers[name] = incoming.headers[name];
          const response = await request(`${target}/webhooks${incoming.url}`, {
            method: incoming.method as 'POST',
            headers,
            body: Buffer.concat(chunks),
          });
          const body = Buffer.from(await response.body.arrayBuffer());
          result = answer(
            response.statusCode,
            body,
            String(response.headers['content-type'] ?? 'text/plain'),
          );
        } catch {
          result = answer(502, '{"message":"hub unreachable"}');
        }
      }
      relay.statuses.set(result.status, (relay.statuses.get(result.status) ?? 0) + 1);
      outgoing.writeHead(result.status, { 'content-type': result.contentType }).end(result.body);
    });
  });
  const port = Number(setting('TH_MINIO_WEBHOOK_PORT'));
  // One receiver at a time can hold the port (the service smoke test's, in another run): wait for it.
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  relay.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return relay;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}
