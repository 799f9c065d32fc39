import { describe, expect, it } from 'vitest';
import { delayHighMs, isCalm, nextConcurrency } from '../../src/backfill/live-first.ts';

const limits = { ceiling: 8, backlogHigh: 32 };
const calm = { delayP99Ms: 5, liveBacklog: 0 };
const busyLoop = { delayP99Ms: delayHighMs + 1, liveBacklog: 0 };
const liveWaiting = { delayP99Ms: 5, liveBacklog: 33 };

describe('backfill concurrency beside the live stream', () => {
  it('grows by one per calm window up to the ceiling', () => {
    const steps = [1];
    for (let i = 0; i < 10; i++) steps.push(nextConcurrency(steps.at(-1)!, calm, limits));
    expect(steps).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 8, 8, 8]);
  });

  it('halves under a live backlog, down to paused, and starts again from one', () => {
    expect(nextConcurrency(8, liveWaiting, limits)).toBe(4);
    expect(nextConcurrency(1, liveWaiting, limits)).toBe(0);
    expect(nextConcurrency(0, liveWaiting, limits)).toBe(0);
    expect(nextConcurrency(0, calm, limits)).toBe(1);
  });

  it('halves on a slow event loop but keeps one delivery, so a backfill on an always-busy hub still ends', () => {
    expect(nextConcurrency(8, busyLoop, limits)).toBe(4);
    expect(nextConcurrency(1, busyLoop, limits)).toBe(1);
  });

  it('calls a window calm only with neither a live backlog nor a slow event loop', () => {
    expect(isCalm(calm, limits)).toBe(true);
    expect(isCalm(busyLoop, limits)).toBe(false);
    expect(isCalm(liveWaiting, limits)).toBe(false);
    expect(isCalm({ delayP99Ms: delayHighMs, liveBacklog: limits.backlogHigh }, limits)).toBe(true);
  });
});
