import { afterEach, describe, expect, it, vi } from 'vitest';
import { Batcher, halves, settleBatch, splitCanHelp } from '../../src/dispatch/batcher.ts';
import type { DeliveryOutcome } from '../../src/targets/target.ts';

const ok: DeliveryOutcome = { ok: true, retriable: false, status: 200, durationMs: 1 };
const answer = (status: number, extra: Partial<DeliveryOutcome> = {}): DeliveryOutcome => ({
  ok: status < 300,
  retriable: status === 408 || status === 429 || status >= 500,
  status,
  durationMs: 1,
  ...extra,
});

/** A function that fails any batch holding a bad item, recording every request it got. */
function functionRejecting(bad: Set<number>, failure: DeliveryOutcome) {
  const requests: number[][] = [];
  const send = async (items: number[]) => {
    requests.push(items);
    return items.some((item) => bad.has(item)) ? { ...failure } : { ...ok };
  };
  return { requests, send };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('splitting a failed batch', () => {
  it('halves in order, the first half the larger', () => {
    expect(halves([1, 2, 3, 4, 5])).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
    expect(halves([1])).toEqual([[1], []]);
  });

  it('splits on answers that blame the content, not on an unavailable target', () => {
    expect(splitCanHelp(answer(400))).toBe(true);
    expect(splitCanHelp(answer(422))).toBe(true);
    expect(splitCanHelp(answer(500))).toBe(true);
    for (const status of [408, 429, 502, 503, 504]) expect(splitCanHelp(answer(status))).toBe(false);
    expect(splitCanHelp(answer(500, { retryAfterMs: 1000 }))).toBe(false);
    expect(splitCanHelp({ ok: false, retriable: true, error: 'ECONNREFUSED', durationMs: 1 })).toBe(false);
    expect(splitCanHelp(ok)).toBe(false);
  });

  it('isolates one bad item of 100: it alone gets the failure, in about 2·log2(n) extra requests', async () => {
    const fn = functionRejecting(new Set([37]), answer(400, { excerpt: 'bad record 37' }));
    const outcomes = await settleBatch(range(100), fn.send, true);
    expect(outcomes[37]).toMatchObject({ ok: false, status: 400, excerpt: 'bad record 37' });
    expect(outcomes.filter((outcome) => outcome.ok)).toHaveLength(99);
    expect(fn.requests.length).toBeLessThanOrEqual(1 + 2 * Math.ceil(Math.log2(100)));
    // Every good item was in some request that succeeded.
    const delivered = new Set(fn.requests.filter((r) => !r.includes(37)).flat());
    expect(delivered.size).toBe(99);
  });

  it('isolates two bad items in different halves', async () => {
    const fn = functionRejecting(new Set([3, 90]), answer(500));
    const outcomes = await settleBatch(range(100), fn.send, true);
    const failed = outcomes.flatMap((outcome, index) => (outcome.ok ? [] : [index]));
    expect(failed).toEqual([3, 90]);
  });

  it('retries whole (one shared outcome) when not splitting, or when the target is unavailable', async () => {
    const retry = functionRejecting(new Set([5]), answer(400));
    const whole = await settleBatch(range(10), retry.send, false);
    expect(retry.requests).toHaveLength(1);
    expect(new Set(whole).size).toBe(1);
    expect(whole[0]).toMatchObject({ ok: false, status: 400 });

    const down = functionRejecting(new Set([5]), answer(503));
    const unavailable = await settleBatch(range(10), down.send, true);
    expect(down.requests).toHaveLength(1);
    expect(unavailable.every((outcome) => outcome.status === 503)).toBe(true);
  });

  it('reports every request with its size', async () => {
    const fn = functionRejecting(new Set([0]), answer(400));
    const sizes: number[] = [];
    await settleBatch(range(4), fn.send, true, (size) => sizes.push(size));
    expect(sizes).toEqual([4, 2, 1, 1, 2]);
  });
});

describe('the batch collector', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  function collector(options: { maxEvents: number; maxWaitMs: number; maxInFlight?: number }) {
    const requests: number[][] = [];
    const open: Array<() => void> = [];
    const batcher = new Batcher<number>({
      onFailure: 'retry',
      maxInFlight: options.maxInFlight ?? 10,
      ...options,
      send: (items) =>
        new Promise((resolve) => {
          requests.push(items);
          open.push(() => resolve({ ...ok }));
        }),
    });
    const answerAll = () => {
      for (const answerOne of open.splice(0)) answerOne();
    };
    return { batcher, requests, answerAll };
  }

  it('sends full batches of maxEvents at once and settles each item with its batch', async () => {
    const { batcher, requests, answerAll } = collector({ maxEvents: 3, maxWaitMs: 60_000 });
    const settled = range(7).map((item) => batcher.submit(item));
    expect(requests).toEqual([
      [0, 1, 2],
      [3, 4, 5],
    ]);
    answerAll();
    const outcomes = await Promise.all(settled.slice(0, 6));
    expect(outcomes.every((outcome) => outcome.ok)).toBe(true);
    expect(outcomes[0]).toBe(outcomes[2]);
    expect(outcomes[0]).not.toBe(outcomes[3]);
  });

  it('sends a partial batch maxWaitMs after its first item', async () => {
    vi.useFakeTimers();
    const { batcher, requests } = collector({ maxEvents: 10, maxWaitMs: 500 });
    void batcher.submit(1);
    await vi.advanceTimersByTimeAsync(300);
    void batcher.submit(2);
    expect(requests).toEqual([]);
    await vi.advanceTimersByTimeAsync(200);
    expect(requests).toEqual([[1, 2]]);
    void batcher.submit(3);
    await vi.advanceTimersByTimeAsync(499);
    expect(requests).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(requests).toEqual([[1, 2], [3]]);
  });

  it('cuts a batch before maxBytes would be passed; an item too large on its own goes alone', () => {
    const requests: number[][] = [];
    const batcher = new Batcher<number>({
      maxEvents: 100,
      maxWaitMs: 60_000,
      maxBytes: 10,
      sizeOf: (item) => item,
      onFailure: 'retry',
      maxInFlight: 10,
      send: async (items) => {
        requests.push(items);
        return { ...ok };
      },
    });
    for (const item of [4, 4, 3, 12, 5, 5, 1]) void batcher.submit(item);
    batcher.flush();
    expect(requests).toEqual([[4, 4], [3], [12], [5, 5], [1]]);
  });

  it('flush sends the open batch without waiting', () => {
    const { batcher, requests } = collector({ maxEvents: 10, maxWaitMs: 60_000 });
    void batcher.submit(1);
    batcher.flush();
    expect(requests).toEqual([[1]]);
  });

  it('keeps at most maxInFlight requests open; ready batches wait for a slot', async () => {
    const { batcher, requests, answerAll } = collector({ maxEvents: 2, maxWaitMs: 60_000, maxInFlight: 1 });
    const settled = range(6).map((item) => batcher.submit(item));
    expect(requests).toEqual([[0, 1]]);
    answerAll();
    await vi.waitFor(() => expect(requests).toHaveLength(2));
    answerAll();
    await vi.waitFor(() => expect(requests).toHaveLength(3));
    answerAll();
    await Promise.all(settled);
    expect(requests).toEqual([
      [0, 1],
      [2, 3],
      [4, 5],
    ]);
  });
});
