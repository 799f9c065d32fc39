// Source → function figures beside the webhook bench (`npm run bench -- --sources`): each source's own
// bench script (sensors/<kind>/*bench.ts) runs as a child on the service stack and prints one JSON line.

import { spawn } from 'node:child_process';
import { repoRoot } from '../services/lib/paths.ts';
import { exitOf } from './children.ts';

const sourceBenches = [
  {
    source: 'kafka (ingest)',
    script: 'sensors/kafka/bench.ts',
    args: ['20000', '6'],
    services: ['kafka'],
  },
  {
    source: 'jetstream (ingest)',
    script: 'sensors/nats/bench.ts',
    args: ['20000'],
    services: ['nats'],
  },
  {
    source: 'kinesis → function',
    script: 'sensors/kinesis/bench.ts',
    args: ['20000'],
    services: ['kinesalite'],
  },
];

/** Runs a command to its end; resolves with its stdout, rejects when it fails or outlives `timeoutMs`. */
async function run(command: string, args: string[], timeoutMs: number): Promise<string> {
  const child = spawn(command, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  const code = await exitOf(child, timeoutMs);
  if (code !== 0) throw new Error(`${args.join(' ')} exited ${code}`);
  return out;
}

export async function runSourceBenches(log: (line: string) => void): Promise<Array<Record<string, unknown>>> {
  const services = ['redis', ...new Set(sourceBenches.flatMap((bench) => bench.services))];
  await run(process.execPath, ['scripts/services/main.ts', 'up', ...services], 1_800_000);
  const results: Array<Record<string, unknown>> = [];
  for (const bench of sourceBenches) {
    log(`source bench: ${bench.source}`);
    try {
      const out = await run(process.execPath, [bench.script, ...bench.args], 600_000);
      const line = out
        .trim()
        .split('\n')
        .reverse()
        .find((l) => l.startsWith('{'));
      results.push({ source: bench.source, ...(line ? (JSON.parse(line) as Record<string, unknown>) : {}) });
    } catch (error) {
      results.push({ source: bench.source, error: (error as Error).message });
    }
  }
  return results;
}
