// A TCP proxy in front of a server, which a test can cut: `pause()` drops every connection and refuses new
// ones (the server is unreachable, as behind a failed network), `resume()` serves again. For faults that must
// not touch the server itself (Redis unreachable for 30 s while its data stays).

import net from 'node:net';

export interface TcpProxy {
  port: number;
  url(scheme: string): string;
  pause(): Promise<void>;
  resume(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, host = '127.0.0.1'): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  };
  let server: net.Server | undefined;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const next = net.createServer((client) => {
        const upstream = net.connect({ host, port: targetPort });
        track(client);
        track(upstream);
        client.pipe(upstream).pipe(client);
        // Either side going away takes the other with it, as a real broken connection would.
        client.on('error', () => upstream.destroy());
        upstream.on('error', () => client.destroy());
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
      });
      next.once('error', reject);
      next.listen(port, host, () => {
        port = (next.address() as net.AddressInfo).port;
        server = next;
        resolve();
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      if (!server) return resolve();
      server.close(() => resolve());
      server = undefined;
    });
  await listen();
  return {
    get port() {
      return port;
    },
    url: (scheme) => `${scheme}://${host}:${port}`,
    pause: stop,
    resume: () => (server ? Promise.resolve() : listen()),
    close: stop,
  };
}
