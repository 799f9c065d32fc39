// Batched delivery (spec.delivery.batch). BullMQ OSS has no batch API, so the dispatcher's worker keeps up
// to concurrency × maxEvents jobs active, and each job's processor hands its event to this collector instead
// of sending it; the collector sends up to maxEvents of them in one request and settles every job's promise
// with that request's answer. A job stays a job: its own lock, attempts, retry and dead-letter entry, exactly
// as on the unbatched path, which this file does not touch.

import type { DeliveryOutcome } from '../targets/target.ts';

export type SendBatch<T> = (items: T[]) => Promise<DeliveryOutcome>;

export interface BatcherOptions<T> {
  maxEvents: number;
  maxWaitMs: number;
  /** A batch is cut before an item would take its body past this; an item larger on its own goes alone. */
  maxBytes?: number;
  /** The bytes an item adds to the body (required with maxBytes). */
  sizeOf?: (item: T) => number;
  onFailure: 'retry' | 'split';
  /** Requests in flight at once (delivery.concurrency); batches ready beyond it wait for a slot. */
  maxInFlight: number;
  send: SendBatch<T>;
  /** Told of every request sent, split halves included (the batch-size histogram). */
  onRequest?: (size: number, outcome: DeliveryOutcome) => void;
}

/**
 * Whether halving a failed batch can isolate the cause: the function answered and blamed the content (a 4xx
 * rejection, or a 500 crash on some record), as AWS Lambda's BisectBatchOnFunctionError splits on function
 * errors. An unreachable, overloaded or throttling target (no answer, 408, 429, 502-504, any Retry-After)
 * would fail every half alike: that batch is retried whole instead of multiplying requests against it.
 */
export function splitCanHelp(outcome: DeliveryOutcome): boolean {
  const { status } = outcome;
  if (outcome.ok || status === undefined || outcome.retryAfterMs !== undefined) return false;
  return status >= 400 && status <= 500 && status !== 408 && status !== 429;
}

/** The two halves of a batch (the first one the larger), order kept. */
export function halves<T>(items: T[]): [T[], T[]] {
  const middle = Math.ceil(items.length / 2);
  return [items.slice(0, middle), items.slice(middle)];
}

/**
 * Sends `items` as one request and returns each item's outcome. With `split`, a failure that splitting can
 * help is bisected until the halves succeed or a single item is left with the failure: n items with one bad
 * one cost about 2·log2(n) extra requests. The halves go one after the other, gentle on a failing function.
 * Items answered by the same request share one outcome object (the dispatcher keys the shared retry delay on it).
 */
export async function settleBatch<T>(
  items: T[],
  send: SendBatch<T>,
  split: boolean,
  onRequest?: (size: number, outcome: DeliveryOutcome) => void,
): Promise<DeliveryOutcome[]> {
  const outcome = await send(items);
  onRequest?.(items.length, outcome);
  if (outcome.ok || !split || items.length === 1 || !splitCanHelp(outcome)) return items.map(() => outcome);
  const [first, second] = halves(items);
  const left = await settleBatch(first, send, split, onRequest);
  const right = await settleBatch(second, send, split, onRequest);
  return [...left, ...right];
}

interface Pending<T> {
  item: T;
  resolve: (outcome: DeliveryOutcome) => void;
  reject: (error: unknown) => void;
}

/** Collects items into batches of maxEvents (or maxBytes), or fewer once the first of them waited maxWaitMs. */
export class Batcher<T> {
  private readonly options: BatcherOptions<T>;
  private open: Array<Pending<T>> = [];
  private openBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly ready: Array<Array<Pending<T>>> = [];
  private inFlight = 0;

  constructor(options: BatcherOptions<T>) {
    this.options = options;
  }

  /** Resolves with the outcome of the request that decided this item. */
  submit(item: T): Promise<DeliveryOutcome> {
    const { maxBytes, sizeOf } = this.options;
    const size = maxBytes === undefined || sizeOf === undefined ? 0 : sizeOf(item);
    if (maxBytes !== undefined && this.open.length > 0 && this.openBytes + size > maxBytes) this.cut();
    return new Promise((resolve, reject) => {
      this.open.push({ item, resolve, reject });
      this.openBytes += size;
      if (
        this.open.length >= this.options.maxEvents ||
        (maxBytes !== undefined && this.openBytes >= maxBytes)
      )
        this.cut();
      else if (this.open.length === 1) this.timer = setTimeout(() => this.cut(), this.options.maxWaitMs);
    });
  }

  /** Sends what has been collected now, without waiting for maxWaitMs (the worker is closing). */
  flush(): void {
    this.cut();
  }

  private cut(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.open.length === 0) return;
    this.ready.push(this.open);
    this.open = [];
    this.openBytes = 0;
    this.pump();
  }

  private pump(): void {
    while (this.inFlight < this.options.maxInFlight && this.ready.length > 0) {
      const batch = this.ready.shift()!;
      this.inFlight++;
      const { send, onFailure, onRequest } = this.options;
      settleBatch(
        batch.map((pending) => pending.item),
        send,
        onFailure === 'split',
        onRequest,
      )
        .then(
          (outcomes) => {
            for (const [index, pending] of batch.entries()) pending.resolve(outcomes[index]!);
          },
          (error: unknown) => {
            for (const pending of batch) pending.reject(error);
          },
        )
        .finally(() => {
          this.inFlight--;
          this.pump();
        });
    }
  }
}
