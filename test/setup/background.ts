// The services the integration suite brings up in the background (BACKGROUND_SERVICES in
// scripts/services/registry.ts): the global setup starts one `services up` process for them and goes on; a test
// that needs them calls awaitBackgroundServices() in its beforeAll, which waits until they answer, or fails at
// once with the end of that process's log if it failed.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { dataDir, logDir, repoRoot } from '../../scripts/services/lib/paths.ts';
import { resolveServices } from '../../scripts/services/registry.ts';

const logFile = join(logDir, 'background-up.log');
const exitFile = join(dataDir, 'background-up.exit');

/** Starts `services up <names>` as its own process; the global teardown waits for it (backgroundServicesDone). */
export function startBackgroundServices(names: string[]): void {
  mkdirSync(logDir, { recursive: true });
  rmSync(exitFile, { force: true });
  const log = openSync(logFile, 'w');
  const script = join(repoRoot, 'scripts', 'services', 'main.ts');
  // The exit code goes to a file, so a waiting test in another process learns of a failure without a time-out.
  const child = spawn(
    'sh',
    [
      '-c',
      'node="$0"; script="$1"; shift; "$node" "$script" up "$@"; echo $? > "$EXIT_FILE"',
      process.execPath,
      script,
      ...names,
    ],
    {
      cwd: repoRoot,
      stdio: ['ignore', log, log],
      detached: true,
      env: { ...process.env, EXIT_FILE: exitFile },
    },
  );
  child.unref();
}

const tail = (file: string) =>
  existsSync(file) ? readFileSync(file, 'utf8').split('\n').slice(-15).join('\n') : '';

/** Waits until every named service answers; fails with the background log when its `up` failed or ended early. */
export async function awaitBackgroundServices(names: string[], timeoutMs = 40 * 60_000): Promise<void> {
  const services = resolveServices(names, true);
  const deadline = Date.now() + timeoutMs;
  let said = false;
  for (;;) {
    const answering = await Promise.all(services.map((svc) => svc.ready().catch(() => false)));
    if (answering.every(Boolean)) return;
    const down = services.filter((_, i) => !answering[i]).map((svc) => svc.name);
    if (existsSync(exitFile)) {
      throw new Error(
        `${down.join(', ')} not up: the background \`services up\` exited with ${readFileSync(exitFile, 'utf8').trim()}; ${logFile}:\n${tail(logFile)}`,
      );
    }
    if (!existsSync(logFile)) {
      throw new Error(
        `${down.join(', ')} not up and not being started: run \`npm run services -- up ${names.join(' ')}\``,
      );
    }
    if (Date.now() > deadline)
      throw new Error(`${down.join(', ')} not up after ${timeoutMs} ms; ${logFile}:\n${tail(logFile)}`);
    if (!said)
      console.log(`waiting for ${down.join(', ')} (built and started in the background; log ${logFile})`);
    said = true;
    await new Promise((resolveTick) => setTimeout(resolveTick, 2_000));
  }
}

/** Waits (bounded) until the background `up` has exited, so a run never ends with a build still going. */
export async function backgroundServicesDone(timeoutMs = 40 * 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (existsSync(logFile) && !existsSync(exitFile) && Date.now() < deadline) {
    await new Promise((resolveTick) => setTimeout(resolveTick, 1_000));
  }
}
