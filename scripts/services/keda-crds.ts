// KEDA's custom resource definitions, for installing into the test stack's kube-apiserver (no KEDA operator
// runs there: the API server alone validates ScaledObjects against KEDA's real schema). They come from the
// KEDA Go module at a pinned version through the Go module proxy (its zip holds config/crd/bases/), cached.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { goModuleDir, serialInstall } from './lib/install.ts';

export const kedaVersion = 'v2.21.0';

/** The YAML of one KEDA CRD, e.g. `keda.sh_scaledobjects`. */
export async function kedaCrd(name = 'keda.sh_scaledobjects'): Promise<string> {
  const dir = await serialInstall(() => goModuleDir('keda-crds', 'github.com/kedacore/keda/v2', kedaVersion));
  return readFileSync(join(dir, 'config', 'crd', 'bases', `${name}.yaml`), 'utf8');
}
