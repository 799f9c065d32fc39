import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cachedBinary, goInstall } from './lib/install.ts';
import { serviceDataDir } from './lib/paths.ts';
import { httpOk, LOCALHOST } from './lib/probe.ts';
import { launch } from './lib/proc.ts';
import { renderFixture } from './lib/template.ts';
import { PORTS } from './ports.ts';
import type { Service } from './service.ts';

// Prometheus 3 publishes its Go module as v0.<minor>.<patch>: v0.316.0 is Prometheus 3.16.0 (cmd/prometheus).
const MODULE = 'github.com/prometheus/prometheus/cmd/prometheus';
const VERSION = 'v0.316.0';
const binary = () => cachedBinary('prometheus', VERSION);

const url = `http://${LOCALHOST}:${PORTS.prometheus}`;
const targetsDir = () => join(serviceDataDir('prometheus'), 'targets');
const ready = () => httpOk(`${url}/-/ready`);

export const prometheus: Service = {
  name: 'prometheus',
  summary: `Prometheus ${VERSION} (module version), scraping the file_sd targets tests write`,
  dependsOn: [],
  procs: [{ id: 'prometheus', port: PORTS.prometheus, ports: [PORTS.prometheus] }],
  async install() {
    // remove_all_sd: only file and HTTP discovery (plugins/minimum.go), not the cloud SDKs; a third of the build.
    await goInstall('prometheus', {
      name: 'prometheus',
      module: MODULE,
      version: VERSION,
      binary: 'prometheus',
      tags: 'remove_all_sd',
    });
  },
  async start() {
    const dir = serviceDataDir('prometheus');
    mkdirSync(targetsDir(), { recursive: true });
    const config = join(dir, 'prometheus.yml');
    writeFileSync(config, renderFixture('prometheus/prometheus.yml', { TARGETS_DIR: targetsDir() }));
    const args = [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'tsdb')}`,
      '--storage.tsdb.retention.time=1d',
      `--web.listen-address=${LOCALHOST}:${PORTS.prometheus}`,
    ];
    await launch({ id: 'prometheus', command: binary(), args, port: PORTS.prometheus }, ready, 60_000);
  },
  ready,
  env: () => ({ TH_PROMETHEUS_URL: url, TH_PROMETHEUS_TARGETS_DIR: targetsDir() }),
};
