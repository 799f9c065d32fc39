// Connection settings of the real-service stack, for tests and benches.
// `npm run services -- up` (or the integration suite's global setup) writes them to .data/services/env.json;
// variables already set in the environment win, so the suite can also run against another stack
// (for example deploy/compose.yaml with the same TH_* variables exported).
import { readFileSync } from 'node:fs';
import { SERVICES } from '../registry.ts';
import { envFile } from './paths.ts';

/** Every setting, with the service that provides it: what each service of the registry gives (`env()`). */
export const SERVICE_ENV_KEYS: Record<ServiceEnvKey, string> = Object.fromEntries(
  SERVICES.flatMap((service) => Object.keys(service.env()).map((key) => [key, service.name])),
);

export type ServiceEnvKey = `TH_${string}`;
export type ServiceEnv = Record<ServiceEnvKey, string>;

function readEnvFile(): Partial<ServiceEnv> {
  try {
    return JSON.parse(readFileSync(envFile, 'utf8')) as Partial<ServiceEnv>;
  } catch {
    return {};
  }
}

/**
 * The settings of the running services. With keys, only those are required (and returned); without, all.
 * Throws, naming the services to start, when one is not up.
 */
export function serviceEnv(): ServiceEnv;
export function serviceEnv<K extends ServiceEnvKey>(...keys: K[]): Pick<ServiceEnv, K>;
export function serviceEnv(...keys: ServiceEnvKey[]): Partial<ServiceEnv> {
  const wanted = keys.length ? keys : (Object.keys(SERVICE_ENV_KEYS) as ServiceEnvKey[]);
  const file = readEnvFile();
  const out: Partial<ServiceEnv> = {};
  const missing: ServiceEnvKey[] = [];
  for (const key of wanted) {
    const value = process.env[key] || file[key];
    if (value) out[key] = value;
    else missing.push(key);
  }
  if (missing.length) {
    const services = [...new Set(missing.map((k) => SERVICE_ENV_KEYS[k]))];
    throw new Error(
      `test services not up: ${services.join(', ')} (no ${missing.join(', ')} in the environment or ${envFile}). ` +
        `Start them with \`npm run services -- up ${services.join(' ')}\`; their logs are in .data/services/logs/.`,
    );
  }
  return out;
}
