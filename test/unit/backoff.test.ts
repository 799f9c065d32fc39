import { describe, expect, it } from 'vitest';
import { backoffDelay, retry } from '../../src/retry/backoff.ts';

const policy = { initialMs: 100, maxMs: 1000, multiplier: 2, jitter: 0.2 };

describe('backoff', () => {
  it('grows exponentially from the initial delay', () => {
    const middle = () => 0.5; // no jitter at the midpoint
    expect([1, 2, 3, 4].map((attempt) => backoffDelay(policy, attempt, middle))).toEqual([
      100, 200, 400, 800,
    ]);
  });

  it('is capped', () => {
    expect(backoffDelay(policy, 20, () => 0.5)).toBe(1000);
  });

  it('spreads delays within the jitter band', () => {
    expect(backoffDelay(policy, 2, () => 0)).toBe(160);
    expect(backoffDelay(policy, 2, () => 1)).toBe(240);
  });

  it('retries until the task succeeds, and stops at a non-retriable error', async () => {
    let calls = 0;
    const fast = { ...policy, initialMs: 1, maxMs: 2 };
    await expect(
      retry(async () => (++calls < 3 ? Promise.reject(new Error('flaky')) : 'ok'), { policy: fast }),
    ).resolves.toBe('ok');
    expect(calls).toBe(3);
    calls = 0;
    const fatal = new Error('fatal');
    await expect(
      retry(
        async () => {
          calls++;
          throw fatal;
        },
        { policy: fast, retriable: (e) => e !== fatal },
      ),
    ).rejects.toBe(fatal);
    expect(calls).toBe(1);
  });
});
