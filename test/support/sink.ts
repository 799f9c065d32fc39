// A function endpoint for tests: records every request, answers what the test says.

import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitFor } from './wait.ts';

export interface Received {
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** ce-id (binary mode) or the id of a structured CloudEvent. */
  id: string | undefined;
  /** The id of every event in the request: [id] for one event, all of them for a CloudEvents batch. */
  ids: string[];
  at: number;
  /** The status written back, once written to a connection still open (a caller that gave up never saw it). */
  answered?: number;
}

export interface Reply {
  status: number;
  body?: string;
  headers?: Record<string, string>;
  /** Delay the answer by this many ms. */
  delayMs?: number;
}

export interface Sink {
  url: string;
  port: number;
  received: Received[];
  /** How many times each id arrived (answered 2xx or not; batches count each event). */
  counts: Map<string, number>;
  /** Ids answered with 2xx. */
  delivered: Set<string>;
  respond: (request: Received) => Reply;
  waitFor(predicate: () => boolean, timeoutMs?: number, what?: string): Promise<void>;
  close(): Promise<void>;
}

function idsOf(headers: IncomingHttpHeaders, body: Buffer): { id: string | undefined; ids: string[] } {
  const header = headers['ce-id'];
  if (typeof header === 'string') return { id: header, ids: [header] };
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { id?: string } | Array<{ id?: string }>;
    if (Array.isArray(parsed))
      return { id: undefined, ids: parsed.flatMap((event) => (event.id === undefined ? [] : [event.id])) };
    return { id: parsed.id, ids: parsed.id === undefined ? [] : [parsed.id] };
  } catch {
    return { id: undefined, ids: [] };
  }
}

export async function startSink(
  options: { port?: number; respond?: (request: Received) => Reply } = {},
): Promise<Sink> {
  const sink = {
    received: [] as Received[],
    counts: new Map<string, number>(),
    delivered: new Set<string>(),
    respond: options.respond ?? (() => ({ status: 200 })),
  } as Sink;
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      const entry: Received = {
        headers: request.headers,
        body,
        ...idsOf(request.headers, body),
        at: Date.now(),
      };
      sink.received.push(entry);
      for (const id of entry.ids) sink.counts.set(id, (sink.counts.get(id) ?? 0) + 1);
      const reply = sink.respond(entry);
      const answer = () => {
        // A caller that timed out and hung up is not told 2xx: it will retry, so this is no delivery.
        if (request.socket.destroyed) return;
        entry.answered = reply.status;
        if (reply.status >= 200 && reply.status < 300) for (const id of entry.ids) sink.delivered.add(id);
        response.writeHead(reply.status, reply.headers).end(reply.body ?? '');
      };
      if (reply.delayMs) setTimeout(answer, reply.delayMs);
      else answer();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  sink.port = (server.address() as AddressInfo).port;
  sink.url = `http://127.0.0.1:${sink.port}/fn`;
  sink.waitFor = (predicate, timeoutMs = 60_000, what = 'condition') =>
    waitFor(predicate, timeoutMs, what, { intervalMs: 50 });
  sink.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return sink;
}
