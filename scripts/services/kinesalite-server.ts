// Runs kinesalite (in memory) on 127.0.0.1 only: its own CLI listens on every interface.
// Usage: node kinesalite-server.ts <port> <createStreamMs> [data dir]
import type { Server } from 'node:http';
import { createRequire } from 'node:module';

type Kinesalite = (options: Record<string, number | string | undefined>) => Server;
const kinesalite = createRequire(import.meta.url)('kinesalite') as Kinesalite;

const port = Number(process.argv[2]);
const ms = Number(process.argv[3]);
// Without a data dir kinesalite keeps its data in memory (memdown) and never loads leveldown; with one
// (the fault suite's private instance) its streams survive a restart.
const path = process.argv[4];
const server = kinesalite({
  createStreamMs: ms,
  deleteStreamMs: ms,
  updateStreamMs: ms,
  shardLimit: 100,
  path,
});
server.listen(port, '127.0.0.1', () =>
  console.log(`kinesalite listening on 127.0.0.1:${port} (${path ? `data in ${path}` : 'in memory'})`),
);
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => process.exit(0));
