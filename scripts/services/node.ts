// A private one-node Kubernetes cluster for tests that run real Pods (docs/kubelet-node.md): a private etcd
// and kube-apiserver (ServiceAccount admission on), kube-controller-manager (service accounts, the root CA
// ConfigMap, node lifecycle, Deployments and ReplicaSets), kube-scheduler, and a kubelet on Debian's
// containerd + runc with its state in a scratch folder. Everything is on free ports of 127.0.0.1, so the
// shared stack (and its API server) is never touched. Images come from podman's storage (no registry).
//
// Host side effects that kubelet cannot be told to keep in the scratch folder are undone by cleanupNode():
// the /kubepods cgroups, the bind mount of its root dir, /var/lib/kubelet/device-plugins, /var/log/containers.
// startNode() runs that cleanup first, so a run that crashed leaves nothing that breaks the next one.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createInstance, type Instance, type InstanceDescriptor, instanceOf } from './instance.ts';
import { componentArgs, kubernetesLdflags, kubernetesVersion, startKubeApiserver } from './kube-apiserver.ts';
import { which } from './lib/exec.ts';
import { aptEnsure, cachedBinary, goWrapperBuild, serialInstall } from './lib/install.ts';
import { formatDuration, say } from './lib/log.ts';
import { cacheDir, dataDir } from './lib/paths.ts';
import { freePort, httpOk, httpRequest, LOCALHOST } from './lib/probe.ts';
import { launch, stopDaemon } from './lib/proc.ts';

const SCOPE = 'node';
const imageDir = join(cacheDir, 'image');

/** Runs a command to completion; resolves with its stdout, rejects with its stderr. */
function sh(cmd: string, args: string[], timeoutMs = 300_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 64 * 1024 * 1024, timeout: timeoutMs }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${cmd} ${args.join(' ')}: ${stderr.trim() || error.message}`));
      else resolve(stdout);
    });
  });
}

const shOk = (cmd: string, args: string[]) =>
  sh(cmd, args).then(
    () => true,
    () => false,
  );

// --- installs -----------------------------------------------------------------------------------------

/** The pause container: a static C program that sleeps, exits on SIGTERM/SIGINT and reaps orphans. */
const PAUSE_C = `#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
static void stop(int sig) { (void)sig; _exit(0); }
static void reap(int sig) { (void)sig; while (waitpid(-1, 0, WNOHANG) > 0) {} }
int main(void) {
  struct sigaction action = {0};
  action.sa_handler = stop;
  sigaction(SIGINT, &action, 0);
  sigaction(SIGTERM, &action, 0);
  action.sa_handler = reap;
  action.sa_flags = SA_NOCLDSTOP;
  sigaction(SIGCHLD, &action, 0);
  for (;;) pause();
}
`;

const PAUSE_REPOSITORY = 'localhost/pause';
const pauseTag = () =>
  `${PAUSE_REPOSITORY}:${createHash('sha256').update(PAUSE_C).digest('hex').slice(0, 12)}`;
const archiveOf = (image: string) => join(imageDir, `${image.replace(/[/:]/g, '_')}.oci.tar`);

/**
 * An image of podman's storage as an OCI archive in the cache (made once per tag), for `ctr images import`.
 * Archives of older tags of the same repository are removed.
 */
async function ociArchive(image: string): Promise<string> {
  const file = archiveOf(image);
  if (existsSync(file)) return file;
  mkdirSync(imageDir, { recursive: true });
  const partial = `${file}.partial`;
  rmSync(partial, { force: true });
  await sh('podman', ['save', '--format', 'oci-archive', '-o', partial, image]);
  renameSync(partial, file);
  const prefix = `${image.slice(0, image.lastIndexOf(':')).replace(/[/:]/g, '_')}_`;
  for (const old of readdirSync(imageDir))
    if (old.startsWith(prefix) && old.endsWith('.oci.tar') && join(imageDir, old) !== file)
      rmSync(join(imageDir, old), { force: true });
  return file;
}

/** The pause image, built with gcc and buildah (FROM scratch) once, cached as an OCI archive. */
async function ensurePauseArchive(): Promise<{ image: string; archive: string }> {
  const image = pauseTag();
  const file = archiveOf(image);
  if (existsSync(file)) return { image, archive: file };
  // libc6-dev (libc.a for -static) is a Recommends of gcc, so it is named too.
  await aptEnsure(SCOPE, [
    { command: 'gcc', pkg: 'gcc' },
    { command: 'gcc', pkg: 'libc6-dev' },
    { command: 'buildah', pkg: 'buildah' },
    { command: 'podman', pkg: 'podman' },
  ]);
  say(SCOPE, `building ${image} (static C pause, FROM scratch)`);
  const work = join(imageDir, 'pause.partial.d');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  writeFileSync(join(work, 'pause.c'), PAUSE_C);
  await sh('gcc', ['-Os', '-static', '-o', join(work, 'pause'), join(work, 'pause.c')]);
  await sh('strip', [join(work, 'pause')]);
  const container = (await sh('buildah', ['from', 'scratch'])).trim();
  try {
    await sh('buildah', ['copy', '--chmod', '0755', container, join(work, 'pause'), '/pause']);
    await sh('buildah', ['config', '--entrypoint', '["/pause"]', '--user', '65535:65535', container]);
    await sh('buildah', ['commit', '--rm', container, image]);
  } catch (error) {
    await sh('buildah', ['rm', container]).catch(() => undefined);
    throw error;
  }
  rmSync(work, { recursive: true, force: true });
  return { image, archive: await ociArchive(image) };
}

/**
 * The controllers a node of Deployments with ServiceAccounts needs: the "default" ServiceAccount of each
 * namespace, the kube-root-ca.crt ConfigMap (the CA in every token volume), the node lifecycle (it lifts the
 * not-ready taint kubelet registers with), Deployments and ReplicaSets.
 */
const KCM_CONTROLLERS = [
  'serviceaccount-controller',
  'serviceaccount-token-controller',
  'root-ca-certificate-publisher-controller',
  'node-lifecycle-controller',
  'deployment-controller',
  'replicaset-controller',
];

const binaries = ['kubelet', 'kube-scheduler', 'kube-controller-manager'] as const;

/**
 * What a node needs, installed if missing (cached; serialized with the other installs of this process):
 * kubelet, kube-scheduler and kube-controller-manager v1.34.4 (wrapper modules in fixtures/services/go),
 * etcd and kube-apiserver, redis-server, containerd + runc + the CNI plugins from Debian, the pause image.
 */
export function installNode(): Promise<{ pause: { image: string; archive: string } }> {
  return serialInstall(async () => {
    await aptEnsure(SCOPE, [
      { command: 'containerd', pkg: 'containerd' },
      { command: 'runc', pkg: 'runc' },
      { command: 'iptables', pkg: 'iptables' },
    ]);
    if (!existsSync('/usr/lib/cni/loopback')) {
      await aptEnsure(SCOPE, [
        { command: 'th-no-such-command-cni', pkg: 'containernetworking-plugins' },
      ]).catch((error: Error) => {
        if (!existsSync('/usr/lib/cni/loopback')) throw error;
      });
    }
    for (const name of binaries)
      await goWrapperBuild(SCOPE, {
        name,
        version: kubernetesVersion,
        pkg: `k8s.io/kubernetes/cmd/${name}`,
        ldflags: kubernetesLdflags,
      });
    return { pause: await ensurePauseArchive() };
  });
}

// --- cleanup ------------------------------------------------------------------------------------------

const nodeDirOf = (prefix: string) => join(dataDir, `node-${prefix}`);
const ids = (prefix: string) => ({
  containerd: `${prefix}-containerd`,
  kubelet: `${prefix}-kubelet`,
  scheduler: `${prefix}-kube-scheduler`,
  controllerManager: `${prefix}-kube-controller-manager`,
});
const instancesFile = (dir: string) => join(dir, 'instances.json');

function readInstances(dir: string): InstanceDescriptor[] {
  try {
    return JSON.parse(readFileSync(instancesFile(dir), 'utf8')) as InstanceDescriptor[];
  } catch {
    return [];
  }
}

function recordInstance(dir: string, instance: Instance): void {
  const list = readInstances(dir).filter((d) => d.id !== instance.id);
  const { kind, id, ports } = instance;
  list.push({ kind, id, ports, dir: instance.dir });
  writeFileSync(instancesFile(dir), JSON.stringify(list));
}

const CGROUP_ROOT = '/sys/fs/cgroup';

/** Every kubepods cgroup folder (all v1 hierarchies and the unified one), deepest first. */
function kubepodsCgroups(): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    let entries: import('node:fs').Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) if (entry.isDirectory()) walk(join(dir, entry.name));
    found.push(dir);
  };
  let hierarchies: string[] = [];
  try {
    hierarchies = readdirSync(CGROUP_ROOT);
  } catch {}
  for (const hierarchy of hierarchies) {
    const top = join(CGROUP_ROOT, hierarchy, 'kubepods');
    if (existsSync(top)) walk(top);
  }
  return found.sort((a, b) => b.split('/').length - a.split('/').length);
}

/** Processes in the kubepods cgroups: the Pods' containers (only this module's kubelet makes /kubepods). */
function kubepodsPids(): number[] {
  const pids = new Set<number>();
  for (const dir of kubepodsCgroups()) {
    try {
      for (const line of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n'))
        if (line.trim()) pids.add(Number(line));
    } catch {}
  }
  return [...pids];
}

/** containerd-shim processes of the containerd listening on `socket` (they outlive it if not killed). */
function shimPids(socket: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv[0]?.includes('containerd-shim') && argv.includes(socket)) pids.push(Number(entry));
    } catch {}
  }
  return pids;
}

function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
}

/** Mount points at or under `dir`, deepest first. */
function mountsUnder(dir: string): string[] {
  const points = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((point): point is string => !!point && (point === dir || point.startsWith(`${dir}/`)))
    .map((point) => point.replace(/\\040/g, ' '));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/** The iptables chains kubelet makes unless makeIPTablesUtilChains is off (it is off here; this is a net). */
const KUBELET_CHAINS = ['KUBE-FIREWALL', 'KUBE-KUBELET-CANARY', 'KUBE-IPTABLES-HINT'];

async function removeKubeletChains(): Promise<void> {
  for (const tool of ['iptables', 'ip6tables']) {
    if (!which(tool)) continue;
    for (const table of ['filter', 'nat', 'mangle']) {
      const rules = await sh(tool, ['-w', '-t', table, '-S']).catch(() => '');
      const present = KUBELET_CHAINS.filter((chain) => rules.includes(`-N ${chain}`));
      if (present.length === 0) continue;
      // Jumps into the chains first (from INPUT, OUTPUT, ...), then the chains.
      for (const line of rules.split('\n')) {
        const jump = present.find((chain) => line.startsWith('-A ') && line.includes(`-j ${chain}`));
        if (jump)
          await sh(tool, ['-w', '-t', table, ...line.replace(/^-A /, '-D ').split(' ')]).catch(() => '');
      }
      for (const chain of present) {
        await sh(tool, ['-w', '-t', table, '-F', chain]).catch(() => '');
        await sh(tool, ['-w', '-t', table, '-X', chain]).catch(() => '');
      }
    }
  }
}

/**
 * containerd 1.6 puts its shims' sockets in /run/containerd/s whatever its state dir; a killed shim leaves
 * its socket file behind. Files there that no process listens on (not in /proc/net/unix) are stale.
 */
function removeStaleShimSockets(): void {
  const shimDir = '/run/containerd/s';
  if (!existsSync(shimDir)) return;
  const bound = readFileSync('/proc/net/unix', 'utf8');
  for (const name of readdirSync(shimDir)) {
    const path = join(shimDir, name);
    if (!bound.includes(path)) rmSync(path, { force: true });
  }
}

/** Removes `dir` and its parents up to (not including) `stop` while they are empty. */
function removeEmpty(dir: string, stop: string): void {
  for (let d = dir; d !== stop && d.startsWith(`${stop}/`); d = d.slice(0, d.lastIndexOf('/'))) {
    try {
      rmdirSync(d);
    } catch {
      return;
    }
  }
}

/**
 * Stops everything a node of `prefix` started (also after a crash, from its pid files and instances.json)
 * and undoes kubelet's host side effects; removes the node's folder. Idempotent.
 */
export async function cleanupNode(prefix: string): Promise<void> {
  const dir = nodeDirOf(prefix);
  const id = ids(prefix);
  const socket = join(dir, 'containerd', 'containerd.sock');
  // kubelet first, so it restarts nothing; then the Pods' processes, the shims, containerd.
  await stopDaemon(id.kubelet, 10_000);
  for (let i = 0; i < 3; i++) {
    const pids = [...kubepodsPids(), ...shimPids(socket)];
    if (pids.length === 0) break;
    killAll(pids);
    await sleep(300);
  }
  await stopDaemon(id.containerd, 5000);
  killAll(shimPids(socket));
  await stopDaemon(id.scheduler, 5000);
  await stopDaemon(id.controllerManager, 5000);
  for (const descriptor of readInstances(dir).reverse()) await instanceOf(descriptor).kill();
  if (existsSync(dir)) {
    for (const point of mountsUnder(dir)) {
      if (!(await shOk('umount', [point]))) await shOk('umount', ['-l', point]);
    }
  }
  // The cgroups kubelet made, deepest first; a cgroup whose last process is still exiting refuses a moment.
  for (let attempt = 0; attempt < 20; attempt++) {
    for (const cgroup of kubepodsCgroups()) {
      try {
        rmdirSync(cgroup);
      } catch {}
    }
    if (kubepodsCgroups().length === 0) break;
    killAll(kubepodsPids());
    await sleep(250);
  }
  await removeKubeletChains();
  removeStaleShimSockets();
  // Paths kubelet 1.34 hard-codes: its device-plugin socket and the /var/log/containers symlinks.
  rmSync('/var/lib/kubelet/device-plugins/kubelet.sock', { force: true });
  for (const sub of ['device-plugins', 'plugins_registry', 'plugins', 'pod-resources', 'checkpoints'])
    removeEmpty(join('/var/lib/kubelet', sub), '/var/lib');
  removeEmpty('/var/lib/kubelet', '/var/lib');
  if (existsSync('/var/log/containers')) {
    for (const link of readdirSync('/var/log/containers')) {
      const path = join('/var/log/containers', link);
      try {
        if (readlinkSync(path).startsWith(`${dir}/`)) rmSync(path, { force: true });
      } catch {}
    }
    removeEmpty('/var/log/containers', '/var/log');
  }
  rmSync(dir, { recursive: true, force: true });
}

// --- start --------------------------------------------------------------------------------------------

export interface NodeCluster {
  /** The private API server's admin kubeconfig (token of system:masters, CA, https://127.0.0.1:<port>). */
  kubeconfig: string;
  apiserverPort: number;
  /** The node's scratch folder (containerd, kubelet, logs). */
  dir: string;
  /** Milliseconds of each start-up step. */
  timings: Record<string, number>;
  /** A GET/POST/... to the private API server as admin; resolves with the status and parsed body. */
  api<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  /** Imports an image of podman's storage into the node's containerd (`imagePullPolicy: Never` Pods use it). */
  importImage(image: string): Promise<void>;
  /** Keeps a private instance with the node: killed by stop() and by the next start's cleanup. */
  track(instance: Instance): void;
  /** Log files, for failure messages. */
  logs: { kubelet: string; containerd: string; scheduler: string; controllerManager: string };
  stop(): Promise<void>;
}

function kubeletConfig(port: number, healthzPort: number, socket: string, dir: string): string {
  return `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: ${LOCALHOST}
port: ${port}
readOnlyPort: 0
healthzBindAddress: ${LOCALHOST}
healthzPort: ${healthzPort}
authentication:
  anonymous: { enabled: true }
  webhook: { enabled: false }
authorization:
  mode: AlwaysAllow
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://${socket}
failSwapOn: false
# No KUBE-FIREWALL / canary chains in the host's iptables.
makeIPTablesUtilChains: false
podLogsDir: ${join(dir, 'pod-logs')}
volumePluginDir: ${join(dir, 'volume-plugins')}
# A test machine's disk may well be fuller than the defaults allow: no image GC, no disk eviction.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 50Mi
  nodefs.available: 1%
  imagefs.available: 1%
  nodefs.inodesFree: 1%
fileCheckFrequency: 5s
syncFrequency: 10s
nodeStatusUpdateFrequency: 5s
`;
}

/** containerd's config (`containerd config default`, edited): everything in `dir`, loopback CNI only. */
async function containerdConfig(dir: string, socket: string, pauseImage: string): Promise<string> {
  const base = await sh('containerd', ['config', 'default']);
  const replace = (text: string, from: RegExp, to: string) => {
    if (!from.test(text)) throw new Error(`containerd config default: no ${from} to edit`);
    return text.replace(from, to);
  };
  let config = base;
  config = replace(config, /^root = .*$/m, `root = "${join(dir, 'root')}"`);
  config = replace(config, /^state = .*$/m, `state = "${join(dir, 'state')}"`);
  config = replace(config, /(\[grpc\]\n(?:.*\n)*?\s*address = ).*/, `$1"${socket}"`);
  config = replace(config, /sandbox_image = .*/, `sandbox_image = "${pauseImage}"`);
  // The pause container asks runc for oom_score_adj -998, which needs CAP_SYS_RESOURCE (root here lacks it).
  config = replace(config, /restrict_oom_score_adj = false/, 'restrict_oom_score_adj = true');
  // runc's state (by default /run/containerd/runc) in the scratch folder too.
  config = replace(config, /(runtimes\.runc\.options\][^[]*?Root = )""/, `$1"${join(dir, 'runc')}"`);
  config = replace(config, /bin_dir = .*/, 'bin_dir = "/usr/lib/cni"');
  config = replace(config, /conf_dir = .*/, `conf_dir = "${join(dir, 'cni')}"`);
  if (!/SystemdCgroup = false/.test(config)) throw new Error('containerd config: SystemdCgroup is not false');
  return config;
}

/**
 * Starts a one-node cluster (after cleaning up whatever a previous run of `prefix` left) and imports
 * `images` (tags in podman's storage) into its containerd. The Node is Ready and untainted when it resolves.
 */
export async function startNode(options: { prefix: string; images?: string[] }): Promise<NodeCluster> {
  const { prefix } = options;
  const timings: Record<string, number> = {};
  const t0 = Date.now();
  const { pause } = await installNode();
  timings.install = Date.now() - t0;
  await cleanupNode(prefix);
  timings.cleanup = Date.now() - t0 - timings.install;
  const dir = nodeDirOf(prefix);
  const id = ids(prefix);
  mkdirSync(dir, { recursive: true });
  const cluster = {} as NodeCluster;
  try {
    const step = Date.now();
    const etcd = await createInstance('etcd', join(dir, 'etcd'), prefix);
    recordInstance(dir, etcd);
    await etcd.start();
    const apiserver = await createInstance('kube-apiserver', join(dir, 'kube-apiserver'), prefix, { etcd });
    recordInstance(dir, apiserver);
    await startKubeApiserver(apiserver.id, apiserver.port, etcd.port, apiserver.dir, {
      serviceAccounts: true,
    });
    timings.apiserver = Date.now() - step;
    const kubeconfig = apiserver.url;
    const pki = join(apiserver.dir, 'pki');
    const token = readFileSync(join(pki, 'token'), 'utf8').trim();
    const ca = readFileSync(join(pki, 'ca.crt'));
    const server = `https://${LOCALHOST}:${apiserver.port}`;
    const api = async <T>(method: string, path: string, body?: unknown) => {
      const answer = await httpRequest(`${server}${path}`, {
        method,
        ca,
        timeoutMs: 10_000,
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      let parsed: unknown = answer.body;
      try {
        parsed = JSON.parse(answer.body);
      } catch {}
      return { status: answer.status, body: parsed as T };
    };

    // containerd
    let s = Date.now();
    const cdir = join(dir, 'containerd');
    const socket = join(cdir, 'containerd.sock');
    mkdirSync(join(cdir, 'cni'), { recursive: true });
    writeFileSync(
      join(cdir, 'cni', '10-loopback.conflist'),
      JSON.stringify({ cniVersion: '1.0.0', name: 'th-node', plugins: [{ type: 'loopback' }] }),
    );
    writeFileSync(join(cdir, 'config.toml'), await containerdConfig(cdir, socket, pause.image));
    const ctr = (args: string[]) => sh('ctr', ['--address', socket, '-n', 'k8s.io', ...args], 600_000);
    await launch(
      { id: id.containerd, command: 'containerd', args: ['--config', join(cdir, 'config.toml')], port: 0 },
      () =>
        ctr(['version']).then(
          () => true,
          () => false,
        ),
      30_000,
    );
    await ctr(['images', 'import', pause.archive]);
    timings.containerd = Date.now() - s;

    s = Date.now();
    const importImage = async (image: string) => {
      const archive = await ociArchive(image);
      await ctr(['images', 'import', archive]);
      const listed = await ctr(['images', 'ls', '-q']);
      if (!listed.split('\n').includes(image)) throw new Error(`${image} is not in containerd after import`);
    };
    for (const image of options.images ?? []) await importImage(image);
    timings.images = Date.now() - s;

    // The control plane's other two: controller-manager (tokens, root CA, node lifecycle, workloads), scheduler.
    s = Date.now();
    const kcmPort = await freePort();
    const kcmDir = join(dir, 'kube-controller-manager');
    mkdirSync(join(kcmDir, 'cert-dir'), { recursive: true });
    await launch(
      {
        id: id.controllerManager,
        command: cachedBinary('kube-controller-manager', kubernetesVersion),
        args: [
          ...componentArgs(kubeconfig, kcmPort, join(kcmDir, 'cert-dir')),
          `--controllers=${KCM_CONTROLLERS.join(',')}`,
          `--root-ca-file=${join(pki, 'ca.crt')}`,
          `--service-account-private-key-file=${join(pki, 'sa.key')}`,
          '--leader-elect=false',
        ],
        port: kcmPort,
      },
      () => httpOk(`https://${LOCALHOST}:${kcmPort}/healthz`, { rejectUnauthorized: false }),
      120_000,
    );
    const schedulerPort = await freePort();
    const schedulerDir = join(dir, 'kube-scheduler');
    mkdirSync(join(schedulerDir, 'cert-dir'), { recursive: true });
    await launch(
      {
        id: id.scheduler,
        command: cachedBinary('kube-scheduler', kubernetesVersion),
        args: [
          ...componentArgs(kubeconfig, schedulerPort, join(schedulerDir, 'cert-dir')),
          '--leader-elect=false',
        ],
        port: schedulerPort,
      },
      () => httpOk(`https://${LOCALHOST}:${schedulerPort}/healthz`, { rejectUnauthorized: false }),
      120_000,
    );
    timings.controlPlane = Date.now() - s;

    // kubelet
    s = Date.now();
    const kdir = join(dir, 'kubelet');
    mkdirSync(join(kdir, 'root'), { recursive: true });
    const [kubeletPort, healthzPort] = [await freePort(), await freePort()];
    writeFileSync(join(kdir, 'kubelet.yaml'), kubeletConfig(kubeletPort, healthzPort, socket, kdir));
    await launch(
      {
        id: id.kubelet,
        command: cachedBinary('kubelet', kubernetesVersion),
        args: [
          `--config=${join(kdir, 'kubelet.yaml')}`,
          `--kubeconfig=${kubeconfig}`,
          `--root-dir=${join(kdir, 'root')}`,
          `--cert-dir=${join(kdir, 'pki')}`,
          // The API server dials the Node's Hostname address for logs and exec: localhost resolves.
          '--hostname-override=localhost',
          '--v=2',
        ],
        port: kubeletPort,
      },
      () => httpOk(`http://${LOCALHOST}:${healthzPort}/healthz`),
      60_000,
    );
    // Ready, and the node lifecycle controller has lifted the not-ready taint (else nothing is scheduled).
    const deadline = Date.now() + 90_000;
    for (;;) {
      const { status, body } = await api<{
        spec?: { taints?: Array<{ key: string }> };
        status?: { conditions?: Array<{ type: string; status: string }> };
      }>('GET', '/api/v1/nodes/localhost');
      const ready = body.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
      const tainted = (body.spec?.taints ?? []).some((t) => t.key.startsWith('node.kubernetes.io/'));
      if (status === 200 && ready && !tainted) break;
      if (Date.now() > deadline)
        throw new Error(
          `node localhost not Ready and untainted in 90 s: ${JSON.stringify(body).slice(0, 2000)}`,
        );
      await sleep(250);
    }
    timings.nodeReady = Date.now() - s;
    say(
      SCOPE,
      `one-node cluster ${prefix} up in ${formatDuration(Date.now() - t0)}: ${JSON.stringify(timings)} (kubeconfig ${kubeconfig})`,
    );
    const daemonLogs = (name: string) => join(dataDir, 'logs', `${name}.log`);
    Object.assign(cluster, {
      kubeconfig,
      apiserverPort: apiserver.port,
      dir,
      timings,
      api,
      importImage,
      track: (instance: Instance) => recordInstance(dir, instance),
      logs: {
        kubelet: daemonLogs(id.kubelet),
        containerd: daemonLogs(id.containerd),
        scheduler: daemonLogs(id.scheduler),
        controllerManager: daemonLogs(id.controllerManager),
      },
      stop: () => cleanupNode(prefix),
    } satisfies NodeCluster);
    return cluster;
  } catch (error) {
    await cleanupNode(prefix).catch(() => undefined);
    throw error;
  }
}
