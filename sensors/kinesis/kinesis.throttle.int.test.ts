import type { Server } from 'node:http';
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
  throttlingProxy,
} from './test-support.ts';

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
