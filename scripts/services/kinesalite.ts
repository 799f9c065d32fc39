import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './lib/paths.ts';
import { httpRequest, LOCALHOST } from './lib/probe.ts';
import { launch } from './lib/proc.ts';
import { PORTS } from './ports.ts';
import type { Service } from './service.ts';

const server = join(repoRoot, 'scripts', 'services', 'kinesalite-server.ts');

/** Any HTTP answer (kinesalite rejects a bare GET with a 4xx) means it serves. */
async function answers(): Promise<boolean> {
  try {
    await httpRequest(`http://${LOCALHOST}:${PORTS.kinesalite}/`, { timeoutMs: 1000 });
    return true;
  } catch {
    return false;
  }
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
  async start() {
    // This script's own Node (24 when run through npm), which strips the launcher's types natively.
    await launch(
      {
        id: 'kinesalite',
        command: process.execPath,
        args: [server, String(PORTS.kinesalite), '50'],
        port: PORTS.kinesalite,
      },
      answers,
      30_000,
    );
  },
  ready: answers,
  env: () => ({ TH_KINESIS_ENDPOINT: `http://${LOCALHOST}:${PORTS.kinesalite}` }),
};
