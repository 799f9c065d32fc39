// Helm for the deploy tests, built once with `go install` through the Go module proxy into the project's
// cache (~/.cache/trigger-hub/bin/helm-<version>/helm), like the service stack's Go binaries: idempotent,
// and a cold build takes a few minutes.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { goInstall, serialInstall } from '../../../scripts/services/lib/install.ts';

export const helmVersion = 'v3.22.0';

export function ensureHelm(): Promise<string> {
  return serialInstall(() =>
    goInstall('deploy', {
      name: 'helm',
      module: 'helm.sh/helm/v3/cmd/helm',
      version: helmVersion,
      binary: 'helm',
    }),
  );
}

/** `helm template` of a chart with --set values; resolves with the rendered YAML. */
export async function helmTemplate(
  helm: string,
  chart: string,
  options: {
    release?: string;
    namespace?: string;
    set?: Record<string, string>;
    values?: string[];
    /** Also print the chart's crds/ folder. */
    includeCrds?: boolean;
  } = {},
): Promise<string> {
  const args = [
    'template',
    options.release ?? 'trigger-hub',
    chart,
    '--namespace',
    options.namespace ?? 'default',
  ];
  for (const [key, value] of Object.entries(options.set ?? {})) args.push('--set', `${key}=${value}`);
  for (const file of options.values ?? []) args.push('--values', file);
  if (options.includeCrds) args.push('--include-crds');
  const { stdout } = await promisify(execFile)(helm, args, {
    maxBuffer: 64 * 1024 * 1024,
    // No network, no user config: helm only renders here.
    env: {
      ...process.env,
      HELM_CACHE_HOME: '/tmp/th-helm/cache',
      HELM_CONFIG_HOME: '/tmp/th-helm/config',
      HELM_DATA_HOME: '/tmp/th-helm/data',
    },
  });
  return stdout;
}
