// A tiny function endpoint for the demo: logs each CloudEvent it receives and answers 200.

import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';

export async function startEchoFunction(port: number, log: Logger): Promise<Server> {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      log.info(
        {
          function: 'echo',
          id: request.headers['ce-id'],
          type: request.headers['ce-type'],
          source: request.headers['ce-source'],
          body: Buffer.concat(chunks).toString('utf8').slice(0, 200),
        },
        'echo function received an event',
      );
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return server;
}
