// Helm for `npm run install-yaml` and the deploy tests, built once with `go install` through the Go module proxy into the project's
// cache (~/.cache/trigger-hub/bin/helm-<version>/helm), like the service stack's Go binaries: idempotent,
// and a cold build takes a few minutes.

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { goInstall, serialInstall } from './services/lib/install.ts';

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

/**
 * Runs helm against a cluster (install, uninstall, ...) with KUBECONFIG=`kubeconfig` and its cache, config
 * and data in a fresh temporary directory; resolves with its stdout, rejects with its stderr in the message.
 */
export async function helmCommand(helm: string, args: string[], kubeconfig: string): Promise<string> {
  const home = mkdtempSync(join(tmpdir(), 'th-helm-'));
  try {
    const { stdout } = await promisify(execFile)(helm, args, {
      maxBuffer: 64 * 1024 * 1024,
      env: {
        ...process.env,
        KUBECONFIG: kubeconfig,
        HELM_CACHE_HOME: join(home, 'cache'),
        HELM_CONFIG_HOME: join(home, 'config'),
        HELM_DATA_HOME: join(home, 'data'),
      },
    });
    return stdout;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`helm ${args.join(' ')} failed: ${stderr || (error as Error).message}`, { cause: error });
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}
