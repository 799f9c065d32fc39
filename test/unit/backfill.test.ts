import { describe, expect, it } from 'vitest';
import { parsePositions } from '../../sensors/kafka/backfill.ts';
import {
  type BackfillRecord,
  parseBackfillRequest,
  parseBound,
  progressOf,
} from '../../src/backfill/backfill.ts';
import { HubError } from '../../src/errors.ts';
import { builtinSensors } from '../../src/registry.ts';

function errorOf(work: () => unknown): HubError {
  try {
    work();
  } catch (error) {
    if (error instanceof HubError) return error;
    throw error;
  }
  throw new Error('expected a HubError');
}

describe('backfill request', () => {
  it('reads ISO times as times and anything else as a source position', () => {
    expect(parseBound('2026-11-24T09:00:00Z', 'from')).toEqual({ time: new Date('2026-11-24T09:00:00Z') });
    expect(parseBound('2026-11-24', 'from')).toEqual({ time: new Date('2026-11-24T00:00:00Z') });
    expect(parseBound('0:1200,1:980', 'from')).toEqual({ position: '0:1200,1:980' });
    expect(parseBound('49612...', 'to')).toEqual({ position: '49612...' });
  });

  it('names the field of every bad value', () => {
    expect(errorOf(() => parseBound('2026-13-45', 'to')).message).toMatch(/^to: /);
    expect(errorOf(() => parseBackfillRequest({})).message).toMatch(/^from: /);
    expect(errorOf(() => parseBackfillRequest({ from: 'x', rate: 1.5 })).message).toMatch(/^rate: /);
    expect(errorOf(() => parseBackfillRequest({ from: 'x', dryRun: 'yes' })).message).toMatch(/^dryRun: /);
    expect(errorOf(() => parseBackfillRequest({ from: 'x', form: 'y' })).message).toMatch(/^form: unknown/);
    expect(errorOf(() => parseBackfillRequest([])).code).toBe('TH_ERR_BAD_REQUEST');
    expect(parseBackfillRequest({ from: '0:0', rate: 5, dryRun: true })).toEqual({
      from: '0:0',
      rate: 5,
      dryRun: true,
    });
  });
});

describe('backfill progress', () => {
  const record: BackfillRecord = {
    id: 'bf1',
    trigger: 'a/b',
    from: { position: '0:0' },
    to: { time: new Date('2026-11-24T10:00:00Z') },
    rate: 100,
    dryRun: false,
    status: 'running',
    createdAt: '2026-11-24T10:00:00.000Z',
    estimate: 1000,
    read: 500,
    filtered: 0,
    enqueued: 500,
    delivered: 200,
    deadLettered: 0,
    readDone: false,
    cursor: { 'orders/0': '500' },
  };
  const at = (seconds: number) => Date.parse(record.createdAt) + seconds * 1000;

  it('estimates the time left from the delivery rate so far, capped by the backfill rate', () => {
    expect(progressOf(record, at(10)).etaSeconds).toBe(40); // 200 in 10 s: 800 left at 20/s
    expect(progressOf({ ...record, delivered: 900 }, at(1)).etaSeconds).toBe(1); // 900/s seen, 100/s allowed
    expect(progressOf({ ...record, readDone: true, enqueued: 300 }, at(10)).etaSeconds).toBe(5);
  });

  it('has no ETA before the first delivery, or once ended; never shows the cursor', () => {
    expect(progressOf({ ...record, delivered: 0 }, at(10)).etaSeconds).toBeUndefined();
    expect(progressOf({ ...record, status: 'completed' }, at(10)).etaSeconds).toBeUndefined();
    expect(progressOf(record, at(10))).not.toHaveProperty('cursor');
    expect(progressOf(record, at(10)).to).toBe('2026-11-24T10:00:00.000Z');
  });
});

describe('kafka backfill positions', () => {
  it('reads partition:offset for one topic and topic:partition:offset for several', () => {
    expect(parsePositions('0:1200, 1:980', ['orders'], 'from')).toEqual(
      new Map([
        ['orders/0', 1200n],
        ['orders/1', 980n],
      ]),
    );
    expect(parsePositions('b:2:7', ['a', 'b'], 'to')).toEqual(new Map([['b/2', 7n]]));
  });

  it('says which field and entry are wrong', () => {
    expect(errorOf(() => parsePositions('0:1', ['a', 'b'], 'from')).message).toMatch(
      /^from: .*name the topic/,
    );
    expect(errorOf(() => parsePositions('c:0:1', ['a', 'b'], 'to')).message).toMatch(/^to: topic "c"/);
    expect(errorOf(() => parsePositions('0:-1', ['a'], 'from')).message).toMatch(/^from: "0:-1"/);
    expect(errorOf(() => parsePositions('0', ['a'], 'from')).message).toMatch(/^from: "0" is not/);
  });
});

describe('replayable sources', () => {
  it('only sources with a past to re-read offer a backfill reader (the others answer TH_ERR_BACKFILL_UNSUPPORTED)', () => {
    expect(builtinSensors.kafka.backfill).toBeTypeOf('function');
    // MinIO's is its list mode (sensors/minio/backfill.ts): notifications themselves are not kept.
    expect(builtinSensors.minio.backfill).toBeTypeOf('function');
    for (const kind of ['kubernetes', 'cron', 'webhook'] as const)
      expect((builtinSensors[kind] as { backfill?: unknown }).backfill, kind).toBeUndefined();
  });
});
