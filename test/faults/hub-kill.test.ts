// A SIGKILLed hub loses no event (docs/design.md "The promises", 1): the hub process is killed many times at
// random moments under a mixed load (webhook, cron, Kafka, JetStream, Kinesis, Kubernetes watch, MinIO) and
// restarted each time; in the end every event a source accepted was delivered, and nothing was
// dead-lettered.

import { describe, it } from 'vitest';
import { envNumber } from './support/instances.ts';
import { runScenario } from './support/scenario.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the hub SIGKILLed at random moments under a mixed load', () => {
  it('loses no event: every event a source accepted is delivered after the restarts', async () => {
    const kills = envNumber('TH_FAULT_KILLS', 20);
    const upTimes: number[] = [];
    await runScenario({
      name: `hub SIGKILLed ${kills}× under mixed load (webhook, cron, Kafka, JetStream, Kinesis, watch, MinIO)`,
      sources: ['webhook', 'cron', 'kafka', 'jetstream', 'kinesis', 'watch', 'minio'],
      rate: envNumber('TH_FAULT_RATE', 25),
      async fault({ restartHub }) {
        for (let kill = 0; kill < kills; kill++) {
          // A random moment: from right after the Triggers are applied to a few seconds of steady work.
          const upMs = Math.round(Math.random() * 3000);
          upTimes.push(upMs);
          await sleep(upMs);
          await restartHub('SIGKILL');
        }
        console.log(`hub kill: killed after ${upTimes.join(', ')} ms of running`);
      },
    });
  });
});
