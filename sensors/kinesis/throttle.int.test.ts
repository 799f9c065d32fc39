import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Hub } from '../../src/hub.ts';
import { startTestHub, uniqueNamespace } from '../../test/support/hub.ts';
import { type Sink, startSink } from '../../test/support/sink.ts';
import {
  createStream,
  deleteStreams,
  kinesisClient,
  kinesisEndpoint,
  kinesisTrigger,
  putRecords,
  sleep,
} from './test-kinesis.ts';

/**
 * kinesalite does not enforce the per-shard read limits, so this proxy in front of it answers every other
 * GetRecords the way Kinesis does when a shard's limit is exceeded (400, ProvisionedThroughputExceededException).
 */
async function throttlingProxy(
  target: string,
): Promise<{ url: string; throttled: () => number; server: Server }> {
  const upstream = new URL(target);
  let getRecords = 0;
  let throttled = 0;
  const server = createServer((incoming, outgoing) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      if (String(incoming.headers['x-amz-target']).endsWith('.GetRecords') && getRecords++ % 2 === 0) {
        throttled++;
        outgoing.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' }).end(
          JSON.stringify({
            __type: 'ProvisionedThroughputExceededException',
            message: 'Rate exceeded for shard in stream under account 000000000000.',
          }),
        );
        return;
      }
      const forward = request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: incoming.method,
          path: incoming.url,
          headers: incoming.headers,
        },
        (response) => {
          outgoing.writeHead(response.statusCode ?? 502, response.headers);
          response.pipe(outgoing);
        },
      );
      forward.on('error', () => outgoing.writeHead(502).end());
      forward.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, throttled: () => throttled, server };
}

describe('kinesis sensor under throttling', () => {
  let hub: Hub | undefined;
  let sink: Sink | undefined;
  let proxy: Server | undefined;

  afterEach(async () => {
    await hub?.close();
    await sink?.close();
    await deleteStreams(kinesisClient());
    proxy?.closeAllConnections();
    await new Promise((resolve) => (proxy ? proxy.close(resolve) : resolve(undefined)));
    hub = undefined;
    sink = undefined;
    proxy = undefined;
  });

  it('backs off on ProvisionedThroughputExceeded and still delivers every record once', async () => {
    const client = kinesisClient();
    const ns = uniqueNamespace('kin');
    await createStream(client, ns, 2);
    const throttling = await throttlingProxy(kinesisEndpoint());
    proxy = throttling.server;
    sink = await startSink();
    hub = await startTestHub([
      kinesisTrigger(ns, 'throttled', {
        stream: ns,
        sinkUrl: sink.url,
        endpoint: throttling.url,
        source: { maxRecordsPerRequest: 50 },
      }),
    ]);
    const puts = await putRecords(client, ns, 0, 1000);
    await sink.waitFor(() => sink!.delivered.size >= 1000, 300_000, '1000 deliveries');
    await sleep(500);

    expect(throttling.throttled()).toBeGreaterThan(10);
    expect([...sink.delivered].sort()).toEqual(puts.map((put) => put.id).sort());
    expect([...sink.counts.values()].every((count) => count === 1)).toBe(true);
  }, 600_000);
});
