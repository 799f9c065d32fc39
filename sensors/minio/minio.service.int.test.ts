import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { Client, NotificationConfig, ObjectCreatedAll, QueueConfig } from 'minio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceEnv } from '../../test/setup/env.ts';

interface Notification {
  headers: IncomingHttpHeaders;
  body: {
    EventName?: string;
    Key?: string;
    Records?: { s3: { bucket: { name: string }; object: { key: string } } }[];
  };
}

describe('minio with its webhook notification target', () => {
  const env = serviceEnv(
    'TH_MINIO_ENDPOINT',
    'TH_MINIO_ACCESS_KEY',
    'TH_MINIO_SECRET_KEY',
    'TH_MINIO_WEBHOOK_TOKEN',
    'TH_MINIO_WEBHOOK_PORT',
    'TH_MINIO_WEBHOOK_ARN',
  );
  const endpoint = new URL(env.TH_MINIO_ENDPOINT);
  const client = new Client({
    endPoint: endpoint.hostname,
    port: Number(endpoint.port),
    useSSL: false,
    accessKey: env.TH_MINIO_ACCESS_KEY,
    secretKey: env.TH_MINIO_SECRET_KEY,
  });
  const bucket = `smoke-${randomUUID().slice(0, 8)}`;
  const received: Notification[] = [];
  let receiver: Server;

  // The receiver stands where the hub's MinIO webhook will: MinIO posts every notification to it.
  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let raw = '';
      req.setEncoding('utf8');
      req.on('data', (d: string) => {
        raw += d;
      });
      req.on('end', () => {
        try {
          received.push({ headers: req.headers, body: JSON.parse(raw) as Notification['body'] });
        } catch {
          // not a notification (MinIO may probe the endpoint)
        }
        res.end();
      });
    });
    // One receiver at a time can hold the port (another suite's, in a concurrent run): wait for it.
    const deadline = Date.now() + 120_000;
    for (;;) {
      try {
        await new Promise<void>((resolve, reject) => {
          const onError = (err: Error) => {
            receiver.off('listening', onListening);
            reject(err);
          };
          const onListening = () => {
            receiver.off('error', onError);
            resolve();
          };
          receiver.once('error', onError);
          receiver.once('listening', onListening);
          receiver.listen(Number(env.TH_MINIO_WEBHOOK_PORT), '127.0.0.1');
        });
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  });
  afterAll(async () => {
    await new Promise((resolve) => receiver?.close(resolve));
  });

  it('puts an object and the webhook receives the notification, with the bearer token', async () => {
    await client.makeBucket(bucket);
    const config = new NotificationConfig();
    const queue = new QueueConfig(env.TH_MINIO_WEBHOOK_ARN);
    queue.addEvent(ObjectCreatedAll);
    config.add(queue);
    await client.setBucketNotification(bucket, config);

    // A key that needs escaping: the notification's object key is query-escaped.
    const key = 'uploads/données/été 2026+x%.csv';
    await client.putObject(bucket, key, Buffer.from('a,b\n1,2\n'));

    const deadline = Date.now() + 30_000;
    let ours: Notification | undefined;
    while (!ours && Date.now() < deadline) {
      ours = received.find((n) => n.body.Records?.[0]?.s3.bucket.name === bucket);
      if (!ours) await new Promise((r) => setTimeout(r, 100));
    }
    expect(ours, 'no notification for the bucket within 30 s').toBeDefined();
    expect(ours!.headers.authorization).toBe(`Bearer ${env.TH_MINIO_WEBHOOK_TOKEN}`);
    expect(ours!.body.EventName).toBe('s3:ObjectCreated:Put');
    expect(ours!.body.Key).toBe(`${bucket}/${key}`);
    const escaped = ours!.body.Records![0]!.s3.object.key;
    expect(decodeURIComponent(escaped.replaceAll('+', ' '))).toBe(key);

    await client.removeObject(bucket, key);
    await client.removeBucket(bucket);
  });
});
