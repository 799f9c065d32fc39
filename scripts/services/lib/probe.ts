import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export const LOCALHOST = '127.0.0.1';

/**
 * Connects to the port and lets `use` decide: `done(ok)` settles with that answer; a timeout or an error
 * settles false. The socket is closed either way.
 */
function probeSocket(
  port: number,
  timeoutMs: number,
  use: (socket: net.Socket, done: (ok: boolean) => void) => void,
): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: LOCALHOST, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    use(socket, done);
  });
}

/** Whether something accepts TCP connections on the port. */
export function tcpOpen(port: number, timeoutMs = 1000): Promise<boolean> {
  return probeSocket(port, timeoutMs, (socket, done) => socket.once('connect', () => done(true)));
}

export interface HttpAnswer {
  status: number;
  body: string;
}

/** One HTTP(S) request; rejects on network errors and time-outs, resolves with any status. */
export function httpRequest(
  url: string,
  opts: {
    method?: string;
    headers?: Record<string, string>;
    body?: string;
    ca?: string | Buffer;
    /** false: accept a self-signed certificate (a health probe of a server that made its own). */
    rejectUnauthorized?: boolean;
    timeoutMs?: number;
  } = {},
): Promise<HttpAnswer> {
  const u = new URL(url);
  const lib = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(
      u,
      {
        method: opts.method ?? 'GET',
        headers: opts.headers,
        ca: opts.ca,
        rejectUnauthorized: opts.rejectUnauthorized ?? true,
        timeout: opts.timeoutMs ?? 2000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Whether a GET answers with a 2xx status. */
export async function httpOk(url: string, opts: Parameters<typeof httpRequest>[1] = {}): Promise<boolean> {
  try {
    const res = await httpRequest(url, opts);
    return res.status >= 200 && res.status < 300;
  } catch {
    return false;
  }
}

/**
 * Sends one Redis command (RESP) and returns the reply as text: enough for PING and CLUSTER INFO without
 * depending on a client library.
 */
export function redisCommand(port: number, args: string[], timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: LOCALHOST, port });
    let buf = Buffer.alloc(0);
    const fail = (err: Error) => {
      socket.destroy();
      reject(err);
    };
    socket.setTimeout(timeoutMs, () => fail(new Error(`redis on ${port}: timeout`)));
    socket.once('error', fail);
    socket.once('connect', () => {
      socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
    });
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const eol = buf.indexOf('\r\n');
      if (eol < 0) return;
      const kind = String.fromCharCode(buf[0]!);
      const line = buf.subarray(1, eol).toString();
      if (kind === '+' || kind === ':') {
        socket.destroy();
        resolve(line);
      } else if (kind === '-') {
        fail(new Error(`redis on ${port}: ${line}`));
      } else if (kind === '$') {
        const len = Number(line);
        if (buf.length < eol + 2 + len) return;
        socket.destroy();
        resolve(buf.subarray(eol + 2, eol + 2 + len).toString());
      } else {
        fail(new Error(`redis on ${port}: unexpected reply ${JSON.stringify(buf.toString().slice(0, 80))}`));
      }
    });
  });
}

/**
 * Whether a Kafka broker serves requests: an ApiVersions v0 request answered with error code 0. (The port
 * can be open before the broker has finished starting; a served request means it is ready for clients.)
 */
export function kafkaApiVersionsOk(port: number, timeoutMs = 2000): Promise<boolean> {
  return probeSocket(port, timeoutMs, (socket, done) => {
    socket.once('connect', () => {
      // request header v1: api_key=18 (ApiVersions), api_version=0, correlation_id=7, client_id=null
      const req = Buffer.alloc(14);
      req.writeInt32BE(10, 0);
      req.writeInt16BE(18, 4);
      req.writeInt16BE(0, 6);
      req.writeInt32BE(7, 8);
      req.writeInt16BE(-1, 12);
      socket.write(req);
    });
    let buf = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length < 10) return;
      done(buf.readInt32BE(4) === 7 && buf.readInt16BE(8) === 0);
    });
  });
}

/** A port that was free a moment ago (for a server that must be told its port before it starts). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, LOCALHOST, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * The one poll loop of the scripts and the tests: asks `check` every `intervalMs` (100 by default) until it
 * holds, and fails naming `what` after `timeoutMs`. `abort` is asked on every round and ends the wait with
 * its message (e.g. the server process exited), so a crash is reported at once rather than after the time-out.
 * A `check` that throws ends the wait with its error (wrap it in `.catch(() => false)` to keep polling).
 */
export async function waitFor(
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  what: string,
  opts: { intervalMs?: number; abort?: () => string | false | undefined } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const aborted = opts.abort?.();
    if (aborted) throw new Error(`${what}: ${aborted}`);
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(opts.intervalMs ?? 100);
  }
}
