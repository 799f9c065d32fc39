// A lease in Redis: one holder at a time, kept by renewal, lost when the holder stops renewing (a SIGKILLed
// hub's lease lapses after `ttlMs` and another process, or the restarted one, takes over). Backfills use
// acquireLease; the Kinesis sensor's shard leases use the same token-checked renew and release scripts.

import { randomBytes } from 'node:crypto';
import type { RedisClient } from './redis.ts';

// Renew and release only while the key still holds our token: never extend or drop someone else's lease.
// KEYS[1] the lease, ARGV[1] the holder's token, ARGV[2] the TTL in ms.
export const renewLeaseScript =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";
export const releaseLeaseScript =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

export interface Lease {
  /** Aborted when a renewal finds the lease taken or gone (the holder must stop its work). */
  lost: AbortSignal;
  release(): Promise<void>;
}

/** Takes the lease if it is free; renews it every third of its TTL until released or lost. */
export async function acquireLease(
  redis: RedisClient,
  key: string,
  ttlMs: number,
): Promise<Lease | undefined> {
  const token = randomBytes(8).toString('hex');
  if ((await redis.set(key, token, 'PX', ttlMs, 'NX')) !== 'OK') return undefined;
  const lost = new AbortController();
  const timer = setInterval(() => {
    redis.eval(renewLeaseScript, 1, key, token, ttlMs).then(
      (renewed) => {
        if (renewed !== 1) lost.abort(new Error(`lease ${key} lost`));
      },
      // Redis away for a moment: the next renewal tries again; past the TTL another holder may take over.
      () => {},
    );
  }, ttlMs / 3);
  timer.unref();
  return {
    lost: lost.signal,
    async release() {
      clearInterval(timer);
      await redis.eval(releaseLeaseScript, 1, key, token).catch(() => {});
    },
  };
}
