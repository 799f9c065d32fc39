// Vitest global setup of the integration project: brings the real-service stack up (idempotent: a few
// seconds when it already runs, a cold first run builds and downloads for several minutes, printing
// progress) and exports its settings (TH_*) to the tests' environment.
//
// TH_SERVICES=redis,nats  only those services (default: all of them)
// TH_SERVICES=none        start nothing; the TH_* variables come from the environment (another stack)
// Services stay up after the run, so the next run starts in seconds and concurrent runs can share them;
// `npm run services -- down` stops them (TH_SERVICES_DOWN_AFTER=1: stop the ones this run started).
import { say } from '../../scripts/services/lib/log.ts';
import { BACKGROUND_SERVICES } from '../../scripts/services/registry.ts';
import { down, up } from '../../scripts/services/stack.ts';
import { backgroundServicesDone, startBackgroundServices } from './background.ts';

export default async function setup(): Promise<() => Promise<void>> {
  const names = (process.env.TH_SERVICES ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.includes('none')) return async () => {};
  // With no names: everything, the long-to-build few in the background while the tests run.
  const result = await up(names.length ? names : ['foreground']);
  if (!names.length) startBackgroundServices(BACKGROUND_SERVICES);
  Object.assign(process.env, result.env);
  for (const f of result.failed) {
    say('global setup', `${f.name} is not up; its tests will fail: ${f.error.split('\n')[0]}`);
  }
  return async () => {
    if (!names.length) await backgroundServicesDone();
    if (process.env.TH_SERVICES_DOWN_AFTER === '1' && result.started.length) await down(result.started);
  };
}
