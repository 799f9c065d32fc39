import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../scripts/services/lib/paths.ts';
import { httpRequest, LOCALHOST } from '../../scripts/services/lib/probe.ts';
import { launch } from '../../scripts/services/lib/proc.ts';
import type { Service } from '../../scripts/services/service.ts';

// This service's ports, in the project's own range (scripts/services/ports.ts says why).
const PORTS = {
  kinesalite: 7341,
} as const;

const server = join(repoRoot, 'scripts', 'services', 'kinesalite-server.ts');

/** Any HTTP answer (kinesalite rejects a bare GET with a 4xx) means it serves. */
const answersOn = (port: number) => async (): Promise<boolean> => {
  try {
    await httpRequest(`http://${LOCALHOST}:${port}/`, { timeoutMs: 1000 });
    return true;
  } catch {
    return false;
  }
};
const answers = answersOn(PORTS.kinesalite);

/**
 * One kinesalite on `port`: in memory, or kept in `dir` (LevelDB) so that it survives a restart, which the
 * fault suite's private instances need (scripts/services/instance.ts).
 */
export async function startKinesalite(id: string, port: number, dir?: string): Promise<void> {
  // This script's own Node (24 when run through npm), which strips the launcher's types natively.
  const args = [server, String(port), '50', ...(dir ? [dir] : [])];
  await launch({ id, command: process.execPath, args, port }, answersOn(port), 30_000);
}

export const kinesaliteService: Service = {
  name: 'kinesalite',
  summary: 'Kinesis API (kinesalite, npm devDependency), in memory, streams ready after 50 ms',
  dependsOn: [],
  procs: [{ id: 'kinesalite', port: PORTS.kinesalite, ports: [PORTS.kinesalite] }],
  async install() {
    if (!existsSync(join(repoRoot, 'node_modules', 'kinesalite', 'package.json'))) {
      throw new Error('kinesalite is not in node_modules: run `npm ci` first');
    }
  },
  start: () => startKinesalite('kinesalite', PORTS.kinesalite),
  ready: answers,
  env: () => ({ TH_KINESIS_ENDPOINT: `http://${LOCALHOST}:${PORTS.kinesalite}` }),
  instance: {
    freePorts: 1,
    graceMs: 5000,
    start: (id, [port], dir) => startKinesalite(id, port!, dir),
    url: ([port]) => `http://${LOCALHOST}:${port}`,
  },
};
