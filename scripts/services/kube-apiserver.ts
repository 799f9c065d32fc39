import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, which } from './lib/exec.ts';
import { aptEnsure, cachedBinary, goWrapperBuild, installLog } from './lib/install.ts';
import { say } from './lib/log.ts';
import { serviceDataDir } from './lib/paths.ts';
import { httpOk, LOCALHOST } from './lib/probe.ts';
import { launch } from './lib/proc.ts';
import { PORTS } from './ports.ts';
import type { Service } from './service.ts';

/** Kubernetes' release: kube-apiserver and kube-controller-manager are built from the same one. */
export const kubernetesVersion = 'v1.34.4';
const VERSION = kubernetesVersion;
const binary = () => cachedBinary('kube-apiserver', VERSION);
const serverOn = (port: number) => `https://${LOCALHOST}:${port}`;

/**
 * The flags every other control-plane component (controller manager, scheduler) takes: its client of the API
 * server, and its own HTTPS (a self-signed certificate made in `certDir`) on 127.0.0.1:`port` for /healthz.
 */
export function componentArgs(kubeconfig: string, port: number, certDir: string): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    `--bind-address=${LOCALHOST}`,
    `--secure-port=${port}`,
    `--cert-dir=${certDir}`,
  ];
}

/** The aggregation layer's client certificate: the API server proxies to extension API servers as this. */
const FRONT_PROXY_CLIENT = 'front-proxy-client';
const FRONT_PROXY_FILES = ['front-proxy-ca.crt', 'front-proxy-client.crt', 'front-proxy-client.key'];

const stackDir = () => serviceDataDir('kube-apiserver');
const pkiOf = (dir: string) => join(dir, 'pki');
/** The admin kubeconfig an API server with its data in `dir` writes at start. */
export const kubeconfigOf = (dir: string) => join(dir, 'kubeconfig');

// Built without Kubernetes' own build scripts, so stamp the version they would have stamped (/version).
const [major, minor] = VERSION.slice(1).split('.');
export const kubernetesLdflags = [
  '-s -w',
  `-X k8s.io/component-base/version.gitVersion=${VERSION}`,
  `-X k8s.io/component-base/version.gitMajor=${major}`,
  `-X k8s.io/component-base/version.gitMinor=${minor}`,
  '-X k8s.io/component-base/version.gitTreeState=clean',
].join(' ');

/**
 * Keys and certificates, made once with openssl and kept with the data: a CA, a serving certificate for
 * 127.0.0.1 signed by it (so clients verify TLS rather than skip it), the service-account signing key pair,
 * and a static admin token (group system:masters) for the kubeconfig.
 */
async function ensurePki(dir: string): Promise<{ ca: string; token: string }> {
  const out = pkiOf(dir);
  const files = [
    'ca.crt',
    'apiserver.crt',
    'apiserver.key',
    'sa.key',
    'sa.pub',
    'tokens.csv',
    'token',
    ...FRONT_PROXY_FILES,
  ];
  if (!files.every((f) => existsSync(join(out, f)))) {
    say('kube-apiserver', 'generating a CA, a serving certificate, service-account keys and an admin token');
    const tmp = `${out}.partial`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true, mode: 0o700 });
    const log = installLog('kube-apiserver-pki');
    const openssl = (label: string, args: string[]) =>
      run(which('openssl')!, args, { scope: 'kube-apiserver', label, log, cwd: tmp });
    const days = '3650';
    // biome-ignore format: flag and value pairs read better side by side
    const makeCa = (name: string, cn: string) => openssl(`making ${name}`, [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', days,
      '-keyout', `${name}.key`, '-out', `${name}.crt`, '-subj', `/CN=${cn}`,
      '-addext', 'basicConstraints=critical,CA:TRUE',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    /** A key and a certificate `name`.crt for `cn`, signed by the CA `ca`, with the extensions of `ext`. */
    const makeSigned = async (name: string, cn: string, ca: string, ext: string[]) => {
      // biome-ignore format: flag and value pairs read better side by side
      await openssl(`making the ${name} key`, [
        'req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`,
      ]);
      writeFileSync(join(tmp, `${name}.ext`), [...ext, ''].join('\n'));
      // biome-ignore format: flag and value pairs read better side by side
      await openssl(`signing the ${name} certificate`, [
        'x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial',
        '-days', days, '-extfile', `${name}.ext`, '-out', `${name}.crt`,
      ]);
    };
    await makeCa('ca', 'trigger-hub-test-ca');
    await makeSigned('apiserver', 'kube-apiserver', 'ca', [
      'basicConstraints=CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc',
    ]);
    // The aggregation layer (APIServices such as external.metrics.k8s.io): the API server proxies to an
    // extension server with this client certificate, and the extension server trusts the user headers of
    // requests signed by this CA (published in kube-system/extension-apiserver-authentication).
    await makeCa('front-proxy-ca', 'trigger-hub-test-front-proxy-ca');
    await makeSigned('front-proxy-client', FRONT_PROXY_CLIENT, 'front-proxy-ca', [
      'extendedKeyUsage=clientAuth',
    ]);
    await openssl('making the service-account key', ['genrsa', '-out', 'sa.key', '2048']);
    await openssl('extracting the service-account public key', [
      'rsa',
      '-in',
      'sa.key',
      '-pubout',
      '-out',
      'sa.pub',
    ]);
    const token = randomBytes(24).toString('hex');
    writeFileSync(join(tmp, 'token'), `${token}\n`, { mode: 0o600 });
    writeFileSync(join(tmp, 'tokens.csv'), `${token},admin,admin-uid,system:masters\n`, { mode: 0o600 });
    rmSync(out, { recursive: true, force: true });
    renameSync(tmp, out);
  }
  return {
    ca: readFileSync(join(out, 'ca.crt'), 'utf8'),
    token: readFileSync(join(out, 'token'), 'utf8').trim(),
  };
}

function writeKubeconfig(dir: string, server: string, ca: string, token: string): void {
  const yaml = `# Generated by scripts/services (kube-apiserver.ts) for the integration tests.
apiVersion: v1
kind: Config
clusters:
  - name: trigger-hub-test
    cluster:
      server: ${server}
      certificate-authority-data: ${Buffer.from(ca).toString('base64')}
users:
  - name: admin
    user:
      token: ${token}
contexts:
  - name: trigger-hub-test
    context:
      cluster: trigger-hub-test
      user: admin
      namespace: default
current-context: trigger-hub-test
`;
  writeFileSync(kubeconfigOf(dir), yaml, { mode: 0o600 });
}

function readyCheck(dir: string, port: number): () => Promise<boolean> {
  const p = pkiOf(dir);
  const server = serverOn(port);
  return async () => {
    if (!existsSync(join(p, 'token'))) return false;
    const token = readFileSync(join(p, 'token'), 'utf8').trim();
    return httpOk(`${server}/readyz`, {
      headers: { authorization: `Bearer ${token}` },
      ca: readFileSync(join(p, 'ca.crt')),
    });
  };
}

/**
 * One API server on `port`, storing in the etcd on `etcdPort`, keys and kubeconfig in `dir`; also used by
 * private instances (instance.ts). `serviceAccounts`: keep the ServiceAccount admission plugin (Pods get
 * their token volume), for a cluster whose controller-manager creates the ServiceAccounts and publishes the
 * CA (scripts/services/node.ts); off by default, since the stack runs no such controllers.
 */
export async function startKubeApiserver(
  id: string,
  port: number,
  etcdPort: number,
  dir: string,
  options: { serviceAccounts?: boolean } = {},
): Promise<void> {
  const { ca, token } = await ensurePki(dir);
  const p = pkiOf(dir);
  const certDir = join(dir, 'cert-dir');
  mkdirSync(certDir, { recursive: true });
  writeKubeconfig(dir, serverOn(port), ca, token);
  const args = [
    `--etcd-servers=http://${LOCALHOST}:${etcdPort}`,
    `--bind-address=${LOCALHOST}`,
    `--advertise-address=${LOCALHOST}`,
    `--secure-port=${port}`,
    `--cert-dir=${certDir}`,
    `--tls-cert-file=${join(p, 'apiserver.crt')}`,
    `--tls-private-key-file=${join(p, 'apiserver.key')}`,
    `--client-ca-file=${join(p, 'ca.crt')}`,
    `--token-auth-file=${join(p, 'tokens.csv')}`,
    '--authorization-mode=RBAC',
    '--service-cluster-ip-range=10.0.0.0/24',
    '--service-account-issuer=https://kubernetes.default.svc',
    `--service-account-key-file=${join(p, 'sa.pub')}`,
    `--service-account-signing-key-file=${join(p, 'sa.key')}`,
    // No controllers run, so nothing would ever create the service-account tokens this plugin waits for.
    ...(options.serviceAccounts ? [] : ['--disable-admission-plugins=ServiceAccount']),
    '--allow-privileged=true',
    // The aggregation layer, for extension API servers (prometheus-adapter serves external.metrics.k8s.io).
    `--requestheader-client-ca-file=${join(p, 'front-proxy-ca.crt')}`,
    `--requestheader-allowed-names=${FRONT_PROXY_CLIENT}`,
    '--requestheader-username-headers=X-Remote-User',
    '--requestheader-group-headers=X-Remote-Group',
    '--requestheader-extra-headers-prefix=X-Remote-Extra-',
    `--proxy-client-cert-file=${join(p, 'front-proxy-client.crt')}`,
    `--proxy-client-key-file=${join(p, 'front-proxy-client.key')}`,
    '--shutdown-delay-duration=0s',
  ];
  await launch({ id, command: binary(), args, port }, readyCheck(dir, port), 120_000);
}

export const kubeApiserver: Service = {
  name: 'kube-apiserver',
  summary: `kube-apiserver ${VERSION} on etcd, no nodes or controllers (envtest style)`,
  dependsOn: ['etcd'],
  procs: [{ id: 'kube-apiserver', port: PORTS.kubeApiserver, ports: [PORTS.kubeApiserver] }],
  // On SIGTERM it drains in-flight requests (watches) for 30 s and more; tests do not need that.
  stopGraceMs: 5_000,
  async install() {
    await aptEnsure('kube-apiserver', [{ command: 'openssl', pkg: 'openssl' }]);
    await goWrapperBuild('kube-apiserver', {
      name: 'kube-apiserver',
      version: VERSION,
      pkg: 'k8s.io/kubernetes/cmd/kube-apiserver',
      ldflags: kubernetesLdflags,
    });
  },
  start: () => startKubeApiserver('kube-apiserver', PORTS.kubeApiserver, PORTS.etcd, stackDir()),
  ready: () => readyCheck(stackDir(), PORTS.kubeApiserver)(),
  env: () => ({ TH_KUBECONFIG: kubeconfigOf(stackDir()) }),
  instance: {
    freePorts: 1,
    storesIn: 'etcd',
    // On SIGTERM it drains in-flight requests (watches) for 30 s and more (as stopGraceMs above).
    graceMs: 5000,
    start: (id, [port, etcdPort], dir) => startKubeApiserver(id, port!, etcdPort!, dir),
    url: (_ports, dir) => kubeconfigOf(dir),
  },
};
