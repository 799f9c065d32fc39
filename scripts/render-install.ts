// `npm run install-yaml`: deploy/install.yaml, the Helm chart rendered once for `kubectl apply -f`: release
// trigger-hub in the namespace trigger-hub (a Namespace object first), the chart's defaults (its own Redis, a
// generated API token, the image ghcr.io/trigger-hub/trigger-hub:<appVersion>) and the Trigger CRD. Helm comes
// from the project's cache (built once with go install). test/integration/deploy/install.test.ts renders it
// again and fails when the committed file is out of date.

import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ensureHelm, helmTemplate } from './helm.ts';

const root = resolve(import.meta.dirname, '..');
export const installYamlPath = resolve(root, 'deploy/install.yaml');
export const installRelease = 'trigger-hub';
export const installNamespace = 'trigger-hub';

export async function renderInstallYaml(helm?: string): Promise<string> {
  const rendered = await helmTemplate(
    helm ?? (await ensureHelm()),
    resolve(root, 'deploy/helm/trigger-hub'),
    {
      release: installRelease,
      namespace: installNamespace,
      includeCrds: true,
    },
  );
  return [
    '# Trigger Hub in one file: kubectl apply -f deploy/install.yaml',
    '# Generated from deploy/helm/trigger-hub with its default values by `npm run install-yaml`; do not edit.',
    "# The API token: kubectl -n trigger-hub get secret trigger-hub-api-token -o jsonpath='{.data.api-token}' | base64 -d",
    'apiVersion: v1',
    'kind: Namespace',
    'metadata:',
    `  name: ${installNamespace}`,
    rendered.startsWith('---') ? rendered : `---\n${rendered}`,
  ].join('\n');
}

if (import.meta.main) {
  writeFileSync(installYamlPath, await renderInstallYaml());
  console.log(`wrote ${installYamlPath}`);
}
