import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { run, which } from './lib/exec.ts';
import { installLog } from './lib/install.ts';
import { say } from './lib/log.ts';
import { serviceDataDir } from './lib/paths.ts';
import { LOCALHOST, redisCommand, waitFor } from './lib/probe.ts';
import { launch, stopDaemon } from './lib/proc.ts';
import { PORTS } from './ports.ts';
import { installRedis, redisArgs, redisPing } from './redis.ts';
import type { Service } from './service.ts';

const NAME = 'redis-cluster';
const nodes = PORTS.redisCluster;
const procId = (port: number) => `${NAME}-${port}`;
const nodeDir = (port: number) => join(serviceDataDir(NAME), String(port));

async function clusterInfo(port: number): Promise<Record<string, string>> {
  try {
    const text = await redisCommand(port, ['CLUSTER', 'INFO']);
    return Object.fromEntries(
      text
        .split('\r\n')
        .filter(Boolean)
        .map((l) => l.split(':', 2) as [string, string]),
    );
  } catch {
    return {};
  }
}

/** Every node sees a healthy cluster of all three masters with all 16384 slots assigned. */
async function clusterOk(): Promise<boolean> {
  const infos = await Promise.all(nodes.map(clusterInfo));
  return infos.every(
    (i) =>
      i.cluster_state === 'ok' &&
      i.cluster_known_nodes === String(nodes.length) &&
      i.cluster_slots_ok === '16384',
  );
}

async function startNodes(): Promise<void> {
  const redisServer = which('redis-server')!;
  await Promise.all(
    nodes.map((port) => {
      mkdirSync(nodeDir(port), { recursive: true });
      // biome-ignore format: flag and value pairs read better side by side
      const args = [
        ...redisArgs(port, nodeDir(port)),
        '--cluster-enabled', 'yes',
        '--cluster-config-file', 'nodes.conf',
        '--cluster-node-timeout', '5000',
      ];
      return launch({ id: procId(port), command: redisServer, args, port }, () => redisPing(port), 30_000);
    }),
  );
}

async function createCluster(): Promise<void> {
  say(NAME, `creating the cluster (${nodes.length} masters, no replicas)`);
  await run(
    which('redis-cli')!,
    [
      '--cluster',
      'create',
      ...nodes.map((p) => `${LOCALHOST}:${p}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ],
    { scope: NAME, label: 'creating the Redis cluster', log: installLog(NAME) },
  );
}

export const redisCluster: Service = {
  name: NAME,
  summary: 'Redis Cluster: 3 masters from the same redis-server binary',
  dependsOn: [],
  procs: nodes.map((port) => ({ id: procId(port), port, ports: [port, port + 10_000] })),
  install: () => installRedis(NAME),
  async start() {
    await startNodes();
    const infos = await Promise.all(nodes.map(clusterInfo));
    if (infos.every((i) => i.cluster_slots_assigned === '0')) {
      await createCluster();
    } else {
      // Restarted nodes find each other again through their nodes.conf.
      try {
        await waitFor(clusterOk, 20_000, 'redis cluster to re-form', { intervalMs: 250 });
        return;
      } catch {
        // Left over from a partial or broken earlier run: start over with empty nodes.
        say(NAME, 'the nodes do not form a healthy cluster; resetting their data and creating it again');
        await Promise.all(nodes.map((p) => stopDaemon(procId(p), 5000)));
        for (const p of nodes) rmSync(nodeDir(p), { recursive: true, force: true });
        await startNodes();
        await createCluster();
      }
    }
    await waitFor(clusterOk, 30_000, 'redis cluster state ok', { intervalMs: 250 });
  },
  ready: clusterOk,
  env: () => ({ TH_REDIS_CLUSTER_NODES: nodes.map((p) => `${LOCALHOST}:${p}`).join(',') }),
};
