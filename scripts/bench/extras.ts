// The runs after the main tables, unless --skip names them: Kafka → function with 1, 2 and 3 hub processes in
// one consumer group (scale), and one hub with 1,000 triggers (triggers).

import { createBrokerSource } from './brokers.ts';
import { stop } from './children.ts';
import { LOAD_TIMEOUT_S, runLabel } from './load.ts';
import { log } from './log.ts';
import { benchManyTriggers } from './many-triggers.ts';
import type { Bench } from './measure.ts';
import { cpuMs } from './proc-figures.ts';
import { flushDb, stackEnv, withDb } from './stack.ts';
import { round } from './statistics.ts';
import { type System, startHub } from './systems.ts';
import { alignRows } from './table.ts';

/** Kafka → function, saturated, with 1, 2 and 3 hub processes sharing one consumer group. */
async function benchScaling({ settings, redisBase, sinkUrl, workDir }: Bench) {
  const { n, warmup } = settings;
  const redisUrl = withDb(redisBase, settings.db);
  const rows = [];
  for (const hubs of [1, 2, 3]) {
    await flushDb(redisUrl);
    const source = await createBrokerSource('kafka', stackEnv());
    const namespace = `bench-scale-${Date.now().toString(36)}`;
    const systems: System[] = [];
    try {
      for (let i = 0; i < hubs; i++)
        systems.push(await startHub({ settings, workDir, redisUrl, sinkUrl, source }, namespace));
      log(`scaling: ${hubs} hub(s), warm-up (the group settles)`);
      await source.load(runLabel(`scale${hubs}-warmup`), sinkUrl, { n: warmup, timeoutS: LOAD_TIMEOUT_S });
      const cpu0 = systems.map((system) => cpuMs(system.child.pid!));
      log(`scaling: ${hubs} hub(s), ${n} events`);
      const result = await source.load(runLabel(`scale${hubs}`), sinkUrl, { n, timeoutS: LOAD_TIMEOUT_S });
      const cpu = systems.reduce((sum, system, i) => sum + cpuMs(system.child.pid!) - cpu0[i]!, 0);
      rows.push({
        hubs,
        eventsPerS: result.e2e_rate_per_s,
        p50Ms: result.latency_ms?.p50 ?? null,
        p99Ms: result.latency_ms?.p99 ?? null,
        cpuMsPerEvent: round(cpu / Math.max(1, result.accepted - result.lost), 3),
        lost: result.lost,
        duplicates: result.duplicates,
      });
    } finally {
      for (const system of systems) await stop(system.child);
      await source.close();
    }
  }
  return rows;
}

/** The scaling run and the 1,000-trigger run, unless --skip names them; their report lines. */
export async function runExtras(bench: Bench): Promise<string[]> {
  const out: string[] = [];
  const { skip, db } = bench.settings;
  if (!skip.has('scale')) {
    const scaling = await benchScaling(bench);
    out.push('');
    out.push(
      'Kafka → function with 1, 2 and 3 hub processes in one consumer group (saturated, 6 partitions)',
    );
    out.push(
      alignRows([
        ['hubs', 'events/s', 'p50 ms', 'p99 ms', 'CPU ms/event (all hubs)', 'lost / duplicates'],
        ...scaling.map((row) => [
          String(row.hubs),
          String(row.eventsPerS),
          String(row.p50Ms),
          String(row.p99Ms),
          String(row.cpuMsPerEvent),
          `${row.lost} / ${row.duplicates}`,
        ]),
      ]),
    );
    out.push(`SCALING_JSON ${JSON.stringify(scaling)}`);
  }
  if (!skip.has('triggers')) {
    const many = await benchManyTriggers(1000, withDb(bench.redisBase, db));
    out.push('');
    out.push(
      `1,000 triggers in one hub: ready ${many.startupToReadyMs} ms after spawn, RSS ${many.rssMiB} MiB settled ` +
        `(${many.rssAfterEventsMiB} MiB with every trigger's Worker awake after one event each), ` +
        `${many.delivered} of 1,000 delivered`,
    );
    out.push(`TRIGGERS_JSON ${JSON.stringify(many)}`);
  }
  return out;
}
