import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cronEventId } from '../../sensors/cron/sensor.ts';
import { kafkaEventId } from '../../sensors/kafka/message.ts';
import { eventId, fromJobId, toJobId } from '../../src/envelope/ids.ts';

describe('deterministic event ids', () => {
  it('gives the same id for the same source position, and different ids for different positions', () => {
    expect(kafkaEventId('orders', 3, '1042')).toBe(kafkaEventId('orders', 3, '1042'));
    expect(kafkaEventId('orders', 3, '1042')).not.toBe(kafkaEventId('orders', 3, '1043'));
    expect(kafkaEventId('orders', 3, '1042')).toBe('kafka/orders/3/1042');
  });

  it('cannot be confused across parts that contain the separator', () => {
    expect(eventId('minio', 'a/b', 'c')).not.toBe(eventId('minio', 'a', 'b/c'));
  });

  it('never throw, and stay distinct, for parts with lone surrogates (JSON can carry "\\ud800")', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 8 }),
        fc.string({ unit: 'binary', maxLength: 8 }),
        (a, b) => {
          expect(() => eventId('minio', a)).not.toThrow();
          if (a !== b) expect(eventId('minio', a)).not.toBe(eventId('minio', b));
        },
      ),
      { numRuns: 2000 },
    );
    expect(eventId('minio', 'a\ud800b')).toBe('minio/a%uD800b');
    expect(eventId('minio', 'a\ud800b')).not.toBe(eventId('minio', 'a\ud801b'));
  });

  it('cron ids identify the trigger and the scheduled tick', () => {
    const tick = new Date('2026-11-23T10:00:05.000Z');
    expect(cronEventId('default/nightly', tick)).toBe(`cron/default%2Fnightly/${tick.getTime()}`);
  });
});

describe('BullMQ job ids', () => {
  it('never contain ":" and are never all digits, and decode back to the event id', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), (id) => {
        const jobId = toJobId(id);
        expect(jobId).not.toContain(':');
        expect(/^\d+$/.test(jobId)).toBe(false);
        expect(fromJobId(jobId)).toBe(id);
      }),
      { numRuns: 5000 },
    );
  });

  it('map different event ids to different job ids', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (a, b) => {
        fc.pre(a !== b);
        expect(toJobId(a)).not.toBe(toJobId(b));
      }),
      { numRuns: 5000 },
    );
    expect(toJobId('123')).not.toBe(toJobId('%23123'));
  });
});
