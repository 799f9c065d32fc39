// Runs kinesalite (in memory) on 127.0.0.1 only: its own CLI listens on every interface.
// Usage: node kinesalite-server.ts <port> <createStreamMs>
import type { Server } from 'node:http';
import { createRequire } from 'node:module';

type Kinesalite = (options: Record<string, number | undefined>) => Server;
const kinesalite = createRequire(import.meta.url)('kinesalite') as Kinesalite;

const port = Number(process.argv[2]);
const ms = Number(process.argv[3]);
// No `path` option: kinesalite keeps its data in memory (memdown) and never loads leveldown.
const server = kinesalite({ createStreamMs: ms, deleteStreamMs: ms, updateStreamMs: ms, shardLimit: 100 });
server.listen(port, '127.0.0.1', () => console.log(`kinesalite listening on 127.0.0.1:${port} (in memory)`));
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => process.exit(0));
