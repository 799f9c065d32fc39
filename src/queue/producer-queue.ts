// Every BullMQ Queue the hub opens on its producer connection is made here.
//
// BullMQ opens a queue's connection once and keeps the outcome: when its first round trip fails, every
// later command of that Queue fails with the same error. The producer connection fails fast by design
// (src/queue/redis.ts), so a Redis crash in the moment a queue was opened broke that queue until the hub
// restarted (webhooks answered 503 for good). Skipping BullMQ's INFO version check leaves that first step
// nothing that can fail but a closed client; the hub checks the version once itself (checkRedisVersion).

import { type JobsOptions, Queue } from 'bullmq';
import { keyPrefix } from './keys.ts';
import type { RedisClient } from './redis.ts';

export function openProducerQueue<Data>(
  name: string,
  connection: RedisClient,
  defaultJobOptions?: JobsOptions,
): Queue<Data> {
  const queue = new Queue<Data>(name, {
    connection,
    prefix: keyPrefix,
    skipVersionCheck: true,
    ...(defaultJobOptions ? { defaultJobOptions } : {}),
  });
  // Connection errors surface as rejected commands; the listener keeps them from crashing the process.
  queue.on('error', () => {});
  return queue;
}
