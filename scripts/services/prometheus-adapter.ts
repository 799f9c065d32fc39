import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kubeconfigOf } from './kube-apiserver.ts';
import { cachedBinary, goWrapperBuild } from './lib/install.ts';
import { repoRoot, serviceDataDir } from './lib/paths.ts';
import { httpOk, httpRequest, LOCALHOST, waitFor } from './lib/probe.ts';
import { launch } from './lib/proc.ts';
import { PORTS } from './ports.ts';
import type { Service } from './service.ts';

const VERSION = 'v0.12.0';
const binary = () => cachedBinary('prometheus-adapter', VERSION);

/**
 * The rules the project ships (deploy/prometheus-adapter/config.yaml), with rate() windows cut from 2m to 20s:
 * the stack's Prometheus scrapes every 2 s instead of a cluster's 30 s, and an autoscaling test should not
 * wait two minutes for a rate to build up. Everything else is the shipped file as is.
 */
export function stackAdapterConfig(): string {
  const shipped = readFileSync(join(repoRoot, 'deploy', 'prometheus-adapter', 'config.yaml'), 'utf8');
  return shipped.replaceAll('[2m]', '[20s]');
}

const apiServerDir = () => serviceDataDir('kube-apiserver');
const apiServer = `https://${LOCALHOST}:${PORTS.kubeApiserver}`;

/** A request to the stack's API server as its admin (the token and CA its start wrote). */
function kube(method: string, path: string, body?: unknown) {
  const pki = join(apiServerDir(), 'pki');
  return httpRequest(`${apiServer}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${readFileSync(join(pki, 'token'), 'utf8').trim()}`,
      // Server-side apply (JSON is YAML); a GET with this content type is refused.
      ...(body === undefined ? {} : { 'content-type': 'application/apply-patch+yaml' }),
    },
    ca: readFileSync(join(pki, 'ca.crt')),
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    timeoutMs: 10_000,
  });
}

async function apply(path: string, object: unknown): Promise<void> {
  const answer = await kube('PATCH', `${path}?fieldManager=trigger-hub-services&force=true`, object);
  if (answer.status >= 300)
    throw new Error(`applying ${path}: ${answer.status} ${answer.body.slice(0, 500)}`);
}

/**
 * Registers the adapter as the cluster's external.metrics.k8s.io. An APIService names a Service; with no
 * nodes or kube-proxy here, an ExternalName Service (`localhost`) is the one kind the aggregator resolves to
 * a host without endpoints (Endpoints may not hold loopback addresses). The adapter's certificate is
 * self-signed for localhost, not for the Service's DNS name, hence insecureSkipTLSVerify: test stack only.
 */
async function registerApiService(): Promise<void> {
  const name = 'prometheus-adapter';
  await apply(`/api/v1/namespaces/kube-system/services/${name}`, {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: 'kube-system' },
    spec: { type: 'ExternalName', externalName: 'localhost' },
  });
  const apiService = 'v1beta1.external.metrics.k8s.io';
  await apply(`/apis/apiregistration.k8s.io/v1/apiservices/${apiService}`, {
    apiVersion: 'apiregistration.k8s.io/v1',
    kind: 'APIService',
    metadata: { name: apiService },
    spec: {
      group: 'external.metrics.k8s.io',
      version: 'v1beta1',
      service: { namespace: 'kube-system', name, port: PORTS.prometheusAdapter },
      insecureSkipTLSVerify: true,
      groupPriorityMinimum: 100,
      versionPriority: 100,
    },
  });
}

/** Ready once the API server itself serves the group through the adapter (the path an HPA controller takes). */
const ready = async () => {
  try {
    return (await kube('GET', '/apis/external.metrics.k8s.io/v1beta1')).status === 200;
  } catch {
    return false;
  }
};

export const prometheusAdapter: Service = {
  name: 'prometheus-adapter',
  summary: `prometheus-adapter ${VERSION} as the API server's external.metrics.k8s.io, with deploy/'s rules`,
  dependsOn: ['kube-apiserver', 'prometheus'],
  procs: [{ id: 'prometheus-adapter', port: PORTS.prometheusAdapter, ports: [PORTS.prometheusAdapter] }],
  async install() {
    // A wrapper module (fixtures/services/go/prometheus-adapter): the proxy refuses this module's version list.
    await goWrapperBuild('prometheus-adapter', {
      name: 'prometheus-adapter',
      version: VERSION,
      pkg: 'sigs.k8s.io/prometheus-adapter/cmd/adapter',
    });
  },
  async start() {
    const dir = serviceDataDir('prometheus-adapter');
    const certDir = join(dir, 'cert-dir');
    mkdirSync(certDir, { recursive: true });
    const config = join(dir, 'config.yaml');
    writeFileSync(config, stackAdapterConfig());
    const kubeconfig = kubeconfigOf(apiServerDir());
    const args = [
      `--config=${config}`,
      `--prometheus-url=http://${LOCALHOST}:${PORTS.prometheus}`,
      `--lister-kubeconfig=${kubeconfig}`,
      `--authentication-kubeconfig=${kubeconfig}`,
      `--authorization-kubeconfig=${kubeconfig}`,
      `--bind-address=${LOCALHOST}`,
      `--secure-port=${PORTS.prometheusAdapter}`,
      `--cert-dir=${certDir}`,
      // New series (a Trigger made by a test) are known within seconds instead of the default 10 minutes.
      '--metrics-relist-interval=5s',
      '--metrics-max-age=10m',
    ];
    const served = () =>
      httpOk(`https://${LOCALHOST}:${PORTS.prometheusAdapter}/healthz`, { rejectUnauthorized: false });
    await launch(
      { id: 'prometheus-adapter', command: binary(), args, port: PORTS.prometheusAdapter },
      served,
      60_000,
    );
    await registerApiService();
    await waitFor(ready, 60_000, 'external.metrics.k8s.io through the API server', { intervalMs: 250 });
  },
  ready,
  env: () => ({}),
};
