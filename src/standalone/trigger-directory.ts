// Standalone mode: the Trigger YAML files of a directory are the desired state. Edits are picked up live;
// an invalid file is reported (file and field) and every valid trigger keeps running.

import { watch } from 'chokidar';
import type { Logger } from 'pino';
import type { Engine } from '../engine/engine.ts';
import { isTriggerFile, loadTriggerDirectory } from '../trigger/load.ts';

export async function applyTriggerDirectory(directory: string, engine: Engine, log: Logger): Promise<void> {
  const { triggers, invalid } = await loadTriggerDirectory(directory);
  for (const item of invalid) log.error({ origin: item.origin, code: 'TH_ERR_INVALID_TRIGGER' }, item.error);
  await engine.apply(triggers, invalid);
}

/** Re-applies the directory whenever a Trigger file changes; returns the function that stops watching. */
export function watchTriggerDirectory(directory: string, engine: Engine, log: Logger): () => Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const watcher = watch(directory, {
    ignoreInitial: true,
    depth: 0,
    awaitWriteFinish: { stabilityThreshold: 100 },
  });
  watcher.on('all', (_event, path) => {
    if (!isTriggerFile(path)) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      log.info({ directory }, 'trigger files changed; reloading');
      applyTriggerDirectory(directory, engine, log).catch((error) =>
        log.error({ err: error }, 'reload failed'),
      );
    }, 150);
  });
  watcher.on('error', (error) => log.warn({ err: error }, 'watching the trigger directory failed'));
  return async () => {
    clearTimeout(timer);
    await watcher.close();
  };
}
