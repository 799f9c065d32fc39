// The one store-then-acknowledge loop of every sensor: `emit` retried until the events are in Redis, so a
// sensor acknowledges at its source (commit, ack, checkpoint) only once they are. The error says whether
// retrying can help (`isRetriable`, in kafkajs's manner), not the sensor; every retry is logged and reported as
// the instrumentation event `source.retrying`. The waits are src/retry/backoff.ts's `retry`.

import type { Logger } from 'pino';
import type { EventInput } from '../envelope/event.ts';
import { isRetriable } from '../errors.ts';
import type { Instrumentation } from '../instrumentation.ts';
import { type BackoffPolicy, enqueueRetryBackoff, retry } from '../retry/backoff.ts';

export interface EmitDurablyOptions {
  /**
   * Gives up when it aborts (default: the sensor's signal). The first attempt is made even if it already
   * has: a graceful stop still writes what was received.
   */
  signal?: AbortSignal;
  /** Asked before every attempt, the first included: false gives up (Kafka: the partition was revoked). */
  stillWanted?: () => boolean;
  /** Runs each attempt's write (Kafka: inside a write slot, heartbeating while it is in flight). */
  around?: <T>(write: () => Promise<T>) => Promise<T>;
  /** The wait between attempts (default: a sleep that ends when `signal` aborts); its error is rethrown. */
  wait?: (ms: number) => Promise<void>;
  /**
   * Every failed attempt, before the wait: the sensor reports itself unhealthy; JetStream tells the server
   * the batch is still being worked on.
   */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  /** Added to the retry's log line (e.g. the partition and offset). */
  logFields?: Record<string, unknown>;
}

/**
 * Resolves with what the emit resolved once the events are stored, or with `undefined` when it gave up first
 * (the signal aborted, `stillWanted` said no): then nothing may be acknowledged. Rejects at once with an
 * error that is not retriable (a HubError whose code says so), and with `wait`'s error.
 */
export type EmitDurably<Result> = (
  events: EventInput[],
  options?: EmitDurablyOptions,
) => Promise<Result | undefined>;

export interface EmitDurablyDeps<Result> {
  emit: (events: EventInput[]) => Promise<Result>;
  /** The trigger's key (`namespace/name`), for `source.retrying`. */
  trigger: string;
  log: Logger;
  /** The sensor's signal: the default of every call. */
  signal: AbortSignal;
  instrumentation?: Instrumentation;
  /** Default: `enqueueRetryBackoff` (a retry is one command that fails fast, so the cap is short). */
  policy?: BackoffPolicy;
}

/** `stillWanted` said no: ends `retry` (not retriable), and resolves the call as stopped. */
class GaveUp extends Error {}

export function createEmitDurably<Result>(deps: EmitDurablyDeps<Result>): EmitDurably<Result> {
  return async (events, options = {}) => {
    const signal = options.signal ?? deps.signal;
    const write = () => deps.emit(events);
    try {
      return await retry(
        async () => {
          if (options.stillWanted?.() === false) throw new GaveUp('given up');
          return options.around ? await options.around(write) : await write();
        },
        {
          policy: deps.policy ?? enqueueRetryBackoff,
          signal,
          retriable: (error) => !(error instanceof GaveUp) && isRetriable(error),
          ...(options.wait ? { wait: options.wait } : {}),
          onRetry: (error, attempt, delayMs) => {
            deps.log.warn(
              { err: error, events: events.length, attempt, delayMs, ...options.logFields },
              'events not yet durable; nothing acknowledged at the source, retrying',
            );
            deps.instrumentation?.emit('source.retrying', deps.trigger, attempt, delayMs, error);
            options.onRetry?.(error, attempt, delayMs);
          },
        },
      );
    } catch (error) {
      // `retry` rethrows the last retriable error when the signal aborted: that is a stop, not a failure.
      if (error instanceof GaveUp || (signal.aborted && isRetriable(error))) return undefined;
      throw error;
    }
  };
}
