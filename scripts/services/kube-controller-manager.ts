import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { componentArgs, kubeconfigOf, kubernetesLdflags, kubernetesVersion } from './kube-apiserver.ts';
import { cachedBinary, goWrapperBuild } from './lib/install.ts';
import { serviceDataDir } from './lib/paths.ts';
import { httpOk, LOCALHOST } from './lib/probe.ts';
import { launch } from './lib/proc.ts';
import { PORTS } from './ports.ts';
import type { Service } from './service.ts';

const binary = () => cachedBinary('kube-controller-manager', kubernetesVersion);

/**
 * The controllers a scaled function needs, and no more: Deployments make ReplicaSets, ReplicaSets make Pods
 * (they stay Pending: no node runs them, but `status.replicas` counts them, which is what an HPA reads), and
 * the HPA controller itself. Tokens, nodes, namespaces and garbage collection are left off.
 */
const CONTROLLERS = ['deployment', 'replicaset', 'horizontalpodautoscaling'];

/**
 * The HPA controller's timings, short so a test sees a scale-up and a scale-down in a minute or two
 * (defaults: sync 15 s, scale-down stabilization 5 min). They are the cluster's defaults for every HPA; a
 * Trigger's own HPA keeps the production behavior it writes.
 */
export const hpaTimings = { syncPeriod: '5s', downscaleStabilization: '15s' } as const;

const ready = () =>
  // Its serving certificate is self-signed (made at start in --cert-dir): a health probe needs no trust.
  httpOk(`https://${LOCALHOST}:${PORTS.kubeControllerManager}/healthz`, { rejectUnauthorized: false });

export const kubeControllerManager: Service = {
  name: 'kube-controller-manager',
  summary: `kube-controller-manager ${kubernetesVersion}: deployment, replicaset and HPA controllers only`,
  dependsOn: ['kube-apiserver'],
  procs: [
    {
      id: 'kube-controller-manager',
      port: PORTS.kubeControllerManager,
      ports: [PORTS.kubeControllerManager],
    },
  ],
  stopGraceMs: 5_000,
  async install() {
    await goWrapperBuild('kube-controller-manager', {
      name: 'kube-controller-manager',
      version: kubernetesVersion,
      pkg: 'k8s.io/kubernetes/cmd/kube-controller-manager',
      ldflags: kubernetesLdflags,
    });
  },
  async start() {
    const dir = serviceDataDir('kube-controller-manager');
    const certDir = join(dir, 'cert-dir');
    mkdirSync(certDir, { recursive: true });
    const kubeconfig = kubeconfigOf(serviceDataDir('kube-apiserver'));
    const args = [
      ...componentArgs(kubeconfig, PORTS.kubeControllerManager, certDir),
      `--controllers=${CONTROLLERS.join(',')}`,
      '--leader-elect=false',
      `--horizontal-pod-autoscaler-sync-period=${hpaTimings.syncPeriod}`,
      `--horizontal-pod-autoscaler-downscale-stabilization=${hpaTimings.downscaleStabilization}`,
    ];
    await launch(
      { id: 'kube-controller-manager', command: binary(), args, port: PORTS.kubeControllerManager },
      ready,
      120_000,
    );
  },
  ready,
  env: () => ({}),
};
