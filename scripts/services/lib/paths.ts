import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository this script belongs to (scripts/services/lib → repo root). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Runtime state of the running services: pid files, data, logs, env.json. Gitignored. */
export const dataDir = join(repoRoot, '.data', 'services');
export const runDir = join(dataDir, 'run');
export const logDir = join(dataDir, 'logs');
export const envFile = join(dataDir, 'env.json');

/** Downloads and builds, shared by every clone on the machine; every entry is keyed by its version. */
export const cacheDir = process.env.TRIGGER_HUB_CACHE || join(homedir(), '.cache', 'trigger-hub');

/** Configuration files and Go wrapper modules that the script renders or builds. */
export const fixturesDir = join(repoRoot, 'fixtures', 'services');

export function serviceDataDir(name: string): string {
  return join(dataDir, name);
}
