// The one poll loop and the free-port helper that scripts and tests share (scripts/services/lib/probe.ts).
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort, waitFor } from '../../scripts/services/lib/probe.ts';

describe('waitFor', () => {
  it('returns as soon as the check holds, asking again every interval', async () => {
    let calls = 0;
    await waitFor(() => ++calls === 3, 5_000, 'the third call', { intervalMs: 1 });
    expect(calls).toBe(3);
  });

  it('fails naming what it waited for once the time is up', async () => {
    await expect(
      waitFor(async () => false, 30, 'a condition that never holds', { intervalMs: 5 }),
    ).rejects.toThrow('timed out after 30 ms waiting for a condition that never holds');
  });

  it('ends at once with the abort message (a process that exited), without waiting for the time-out', async () => {
    const started = Date.now();
    await expect(
      waitFor(() => false, 60_000, 'the server', { abort: () => 'exited with code 1' }),
    ).rejects.toThrow('the server: exited with code 1');
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('ends with the error of a check that throws', async () => {
    await expect(
      waitFor(() => Promise.reject(new Error('connection refused')), 60_000, 'the server'),
    ).rejects.toThrow('connection refused');
  });
});

describe('freePort', () => {
  it('gives a port a server can listen on at once', async () => {
    const port = await freePort();
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    expect((server.address() as { port: number }).port).toBe(port);
    await new Promise((resolve) => server.close(resolve));
  });
});
