import { mkdirSync } from 'node:fs';
import { cachedBinary, goWrapperBuild } from './lib/install.ts';
import { serviceDataDir } from './lib/paths.ts';
import { httpOk, LOCALHOST } from './lib/probe.ts';
import { launch } from './lib/proc.ts';
import { PORTS } from './ports.ts';
import type { Service } from './service.ts';

// The 3.5/3.6 line that Kubernetes 1.34 expects: with Debian's etcd 3.4 the API server starts, but watches
// answer with an ERROR event at once.
const VERSION = 'v3.6.16';
const binary = () => cachedBinary('etcd', VERSION);
const healthyOn = (port: number) => () => httpOk(`http://${LOCALHOST}:${port}/health`);
const ready = healthyOn(PORTS.etcd);

/** One etcd member on `port` (clients) and `peerPort`, data in `dir`; also used by private instances (instance.ts). */
export async function startEtcdServer(
  id: string,
  port: number,
  peerPort: number,
  dir: string,
): Promise<void> {
  const client = `http://${LOCALHOST}:${port}`;
  const peer = `http://${LOCALHOST}:${peerPort}`;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // biome-ignore format: flag and value pairs read better side by side
  const args = [
    '--name', 'trigger-hub-test',
    '--data-dir', dir,
    '--listen-client-urls', client,
    '--advertise-client-urls', client,
    '--listen-peer-urls', peer,
    '--initial-advertise-peer-urls', peer,
    '--initial-cluster', `trigger-hub-test=${peer}`,
    // Test data: speed over crash safety, as controller-runtime's envtest does.
    '--unsafe-no-fsync',
    '--log-level', 'warn',
  ];
  await launch({ id, command: binary(), args, port }, healthyOn(port), 60_000);
}

export const etcd: Service = {
  name: 'etcd',
  summary: `etcd ${VERSION}, storage for kube-apiserver`,
  dependsOn: [],
  procs: [{ id: 'etcd', port: PORTS.etcd, ports: [PORTS.etcd, PORTS.etcdPeer] }],
  async install() {
    await goWrapperBuild('etcd', { name: 'etcd', version: VERSION, pkg: 'go.etcd.io/etcd/server/v3' });
  },
  start: () => startEtcdServer('etcd', PORTS.etcd, PORTS.etcdPeer, serviceDataDir('etcd')),
  ready,
  env: () => ({}),
  instance: {
    freePorts: 2,
    graceMs: 10_000,
    start: (id, [port, peerPort], dir) => startEtcdServer(id, port!, peerPort!, dir),
    url: ([port]) => `http://${LOCALHOST}:${port}`,
  },
};
