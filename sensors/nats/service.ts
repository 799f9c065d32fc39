import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cachedBinary, goInstall } from '../../scripts/services/lib/install.ts';
import { serviceDataDir } from '../../scripts/services/lib/paths.ts';
import { httpOk, LOCALHOST } from '../../scripts/services/lib/probe.ts';
import { launch } from '../../scripts/services/lib/proc.ts';
import { renderFixture } from '../../scripts/services/lib/template.ts';
import type { Service } from '../../scripts/services/service.ts';

// This service's ports, in the project's own range (scripts/services/ports.ts says why).
const PORTS = {
  nats: 7321,
  natsMonitor: 7322,
} as const;

// Built from the Go module proxy: Debian's nats-server is 2.9, whose JetStream is well behind.
const MODULE = 'github.com/nats-io/nats-server/v2';
const VERSION = 'v2.12.3';
const binary = () => cachedBinary('nats-server', VERSION);

// /healthz answers 200 only once JetStream is enabled and current.
const healthyOn = (monitorPort: number) => () => httpOk(`http://${LOCALHOST}:${monitorPort}/healthz`);
const healthy = healthyOn(PORTS.natsMonitor);

/** One nats-server with JetStream on `port`; also used by private instances (scripts/services/instance.ts). */
export async function startNatsServer(
  id: string,
  port: number,
  monitorPort: number,
  dir: string,
): Promise<void> {
  const storeDir = join(dir, 'jetstream');
  mkdirSync(storeDir, { recursive: true });
  const conf = join(dir, 'nats-server.conf');
  writeFileSync(
    conf,
    renderFixture('nats/nats-server.conf', { PORT: port, MONITOR_PORT: monitorPort, STORE_DIR: storeDir }),
  );
  await launch({ id, command: binary(), args: ['-c', conf], port }, healthyOn(monitorPort), 30_000);
}

export const nats: Service = {
  name: 'nats',
  summary: `NATS ${VERSION} with JetStream`,
  dependsOn: [],
  procs: [{ id: 'nats', port: PORTS.nats, ports: [PORTS.nats, PORTS.natsMonitor] }],
  async install() {
    await goInstall('nats', { name: 'nats-server', module: MODULE, version: VERSION, binary: 'nats-server' });
  },
  start: () => startNatsServer('nats', PORTS.nats, PORTS.natsMonitor, serviceDataDir('nats')),
  ready: healthy,
  env: () => ({ TH_NATS_URL: `nats://${LOCALHOST}:${PORTS.nats}` }),
  instance: {
    freePorts: 2,
    graceMs: 10_000,
    start: (id, [port, monitorPort], dir) => startNatsServer(id, port!, monitorPort!, dir),
    url: ([port]) => `nats://${LOCALHOST}:${port}`,
  },
};
