// A SIGKILLed hub loses no event (DESIGN.md promise 1): the hub process is killed many times at random
// moments under a mixed load (webhook, cron, Kafka, JetStream, Kinesis) and restarted each time; in the
// end every event a source accepted was delivered, and nothing was dead-lettered.

import { afterAll, describe, expect, it } from 'vitest';
import { freePort, type HubProcess, spawnHub, uniqueNamespace, writeTriggerDir } from '../support/hub.ts';
import { envNumber, faultInstances } from './support/instances.ts';
import { queuedEventIds, startLedger, unfinishedJobs } from './support/ledger.ts';
import {
  cronTrigger,
  jetStreamSource,
  kafkaSource,
  kinesisSource,
  type SourceFixture,
  webhookLoad,
  webhookTrigger,
} from './support/load.ts';
import { recordRow } from './support/report.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the hub SIGKILLed at random moments under a mixed load', () => {
  let hub: HubProcess | undefined;
  const sources: SourceFixture[] = [];
  afterAll(async () => {
    hub?.child.kill('SIGKILL');
    for (const source of sources) await source.close();
  });

  it('loses no event: every event a source accepted is delivered after the restarts', async () => {
    const kills = envNumber('TH_FAULT_KILLS', 20);
    const rate = envNumber('TH_FAULT_RATE', 25);
    const { kafka, nats, kinesalite } = faultInstances();
    const ledger = await startLedger();
    const ns = uniqueNamespace('kill');
    sources.push(
      await kafkaSource(kafka.url, ns, ledger.sink.url),
      await jetStreamSource(nats.url, ns, ledger.sink.url),
      await kinesisSource(kinesalite.url, ns, ledger.sink.url),
    );
    const triggers = [webhookTrigger(ns, ledger.sink.url), cronTrigger(ns, ledger.sink.url)];
    const dir = writeTriggerDir([...triggers, ...sources.map((source) => source.trigger)]);
    const port = await freePort();
    hub = await spawnHub(dir, port);
    const loads = [
      webhookLoad(`${hub.url}/webhooks/${ns}/webhook`, ledger.produced, rate),
      ...sources.map((source) => source.start(ledger.produced, rate)),
    ];
    const upTimes: number[] = [];
    for (let kill = 0; kill < kills; kill++) {
      // A random moment: from right after the Triggers are applied to a few seconds of steady work.
      const upMs = Math.round(Math.random() * 3000);
      upTimes.push(upMs);
      await sleep(upMs);
      hub.child.kill('SIGKILL');
      await hub.exited;
      hub = await spawnHub(dir, port);
    }
    const restartedAt = Date.now();
    console.log(`hub kill: ${kills} kills after ${upTimes.join(', ')} ms of running`);
    await sleep(2000);
    await Promise.all(loads.map((load) => load.stop()));
    // Cron ticks due while no hub ran are not fired late (by design); every tick a hub wrote must arrive.
    for (const id of await queuedEventIds(`${ns}/cron`)) ledger.produced.add(id);
    const doneAt = await ledger.waitAllDelivered(240_000, 'after the last restart');
    const row = ledger.row(
      `hub SIGKILLed ${kills}× under mixed load (webhook, cron, Kafka, JetStream, Kinesis)`,
      doneAt - restartedAt,
    );
    recordRow(row);
    expect(row.lost).toBe(0);
    for (const name of ['webhook', 'cron', 'kafka', 'jetstream', 'kinesis'])
      expect(await unfinishedJobs(`${ns}/${name}`), name).toEqual({});
    hub.child.kill('SIGTERM');
    await hub.exited;
    await ledger.close();
  });
});
