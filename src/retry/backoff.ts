// The one backoff policy of the hub: delivery retries, source reconnects and watch restarts all call it.
// Exponential with "full jitter" around the nominal delay, capped, as AWS's architecture blog recommends
// so that many retriers do not synchronize.

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  multiplier: number;
  /** 0..1: the share of the delay that is randomized. */
  jitter: number;
}

export const defaultBackoff: BackoffPolicy = { initialMs: 500, maxMs: 60_000, multiplier: 2, jitter: 0.2 };

/**
 * A sensor retrying an emit that Redis could not take (TH_ERR_QUEUE_UNAVAILABLE): the events wait unacked at
 * their source, and a retry is one command that fails fast, so the cap is short. With the default's 60 s cap
 * a 30 s Redis outage held Kafka and JetStream back for another 30-45 s after Redis returned (fault suite).
 */
export const enqueueRetryBackoff: BackoffPolicy = { initialMs: 200, maxMs: 5000, multiplier: 2, jitter: 0.2 };

/** Delay before retry number `attempt` (1 = the first retry). */
export function backoffDelay(
  policy: BackoffPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const exponent = Math.max(0, attempt - 1);
  const nominal = Math.min(policy.maxMs, policy.initialMs * policy.multiplier ** exponent);
  const spread = nominal * policy.jitter;
  return Math.max(0, Math.round(nominal - spread + random() * 2 * spread));
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Runs `task` until it succeeds, the error is not retriable, or `signal` aborts. Used for source
 * reconnects and a sensor's store-then-acknowledge writes (src/sensor/emit-durably.ts); delivery retries go
 * through BullMQ's backoff hook with the same `backoffDelay`.
 */
export async function retry<T>(
  task: (attempt: number) => Promise<T>,
  options: {
    policy?: BackoffPolicy;
    signal?: AbortSignal;
    retriable?: (error: unknown) => boolean;
    onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
    /** How to wait between attempts (default: `sleep` on `signal`); its error ends the retrying with it. */
    wait?: (ms: number, signal?: AbortSignal) => Promise<void>;
  } = {},
): Promise<T> {
  const policy = options.policy ?? defaultBackoff;
  for (let attempt = 1; ; attempt++) {
    try {
      return await task(attempt);
    } catch (error) {
      if (options.signal?.aborted || (options.retriable && !options.retriable(error))) throw error;
      const delay = backoffDelay(policy, attempt);
      options.onRetry?.(error, attempt, delay);
      await (options.wait ?? sleep)(delay, options.signal);
      if (options.signal?.aborted) throw error;
    }
  }
}
