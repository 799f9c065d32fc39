// Controller mode in tests: an in-process hub with a TriggerController on the stack's kube-apiserver, watching
// the given namespaces with its status Lease in the first one, and the short timers a test wants.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pino } from 'pino';
import { parse } from 'yaml';
import { kedaCrd } from '../../scripts/services/keda-crds.ts';
import { applyCrd } from '../../sensors/kubernetes/test-support.ts';
import { type ControllerOptions, TriggerController, triggersPath } from '../../src/controller/controller.ts';
import type { KubeClient, KubeObject } from '../../src/controller/kube-client.ts';
import type { Hub } from '../../src/hub.ts';
import type { RedisClient } from '../../src/queue/redis.ts';
import { startTestHub } from './hub.ts';
import { waitFor } from './wait.ts';

/** Applies deploy/'s Trigger CRD and waits until the API server serves Triggers (a moment after Established). */
export async function installTriggerCrd(client: KubeClient): Promise<void> {
  const file = resolve(import.meta.dirname, '../../deploy/crds/triggers.triggerhub.io.yaml');
  await applyCrd(client, parse(readFileSync(file, 'utf8')) as KubeObject);
  await waitFor(
    () =>
      client.get(triggersPath()).then(
        () => true,
        () => false,
      ),
    30_000,
    'triggers served',
  );
}

/** Installs KEDA's real ScaledObject CRD (scripts/services/keda-crds.ts) and waits until it is served. */
export async function installKedaCrd(client: KubeClient): Promise<void> {
  await applyCrd(client, parse(await kedaCrd()) as KubeObject);
  await waitFor(
    () =>
      client.get('/apis/keda.sh/v1alpha1/scaledobjects').then(
        () => true,
        () => false,
      ),
    30_000,
    'scaledobjects served',
  );
}

export interface TestController {
  hub: Hub;
  controller: TriggerController;
  close(): Promise<void>;
}

/** Starts a hub and its controller (not yet `start()`ed when `start: false`); close() stops both. */
export async function startTestController(
  client: KubeClient,
  redis: RedisClient,
  namespaces: string[],
  options: Partial<ControllerOptions> & { start?: boolean } = {},
): Promise<TestController> {
  const { start = true, ...overrides } = options;
  const hub = await startTestHub([]);
  const controller = new TriggerController({
    engine: hub.engine,
    instrumentation: hub.instrumentation,
    redis,
    log: pino({ level: 'warn' }),
    client,
    namespaces,
    leaseNamespace: namespaces[0]!,
    statusIntervalMs: 200,
    ...overrides,
  });
  if (start) await controller.start();
  return {
    hub,
    controller,
    async close() {
      await controller.stop();
      await hub.close();
    },
  };
}
