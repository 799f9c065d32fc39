// `trigger-hub run --kubernetes [namespaces]`: the hub's Triggers come from the cluster instead of a directory.

import type { Logger } from 'pino';
import type { Hub } from '../hub.ts';
import { duplicateRedis } from '../queue/redis.ts';
import { TriggerController } from './controller.ts';

/** `true` (the bare flag) = all namespaces; otherwise a comma-separated list. */
export function parseNamespaces(option: string | true): string[] {
  if (option === true) return [];
  return option
    .split(',')
    .map((namespace) => namespace.trim())
    .filter(Boolean);
}

/** Starts the controller on a running hub; resolves once the cluster's Triggers are applied. */
export async function startControllerMode(
  hub: Hub,
  option: string | true,
  log: Logger,
): Promise<() => Promise<void>> {
  const redis = duplicateRedis(hub.redis); // a connection of its own, to the same Redis or Cluster
  redis.on('error', () => {});
  const namespaces = parseNamespaces(option);
  const controller = new TriggerController({
    engine: hub.engine,
    instrumentation: hub.instrumentation,
    redis,
    log,
    namespaces,
  });
  log.info(
    { namespaces: namespaces.length ? namespaces : 'all' },
    'controller mode: watching Trigger resources',
  );
  await controller.start();
  return async () => {
    await controller.stop();
    redis.disconnect();
  };
}
