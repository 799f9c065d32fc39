// The cron source's timing and ids: when ticks fall, and that every replica names a tick the same way
// (the id is the job id, so three processes firing one tick write one job).

import { describe, expect, it } from 'vitest';
import { cronEventId } from './sensor.ts';
import { cronSpec, nextTick } from './spec.ts';

const at = (iso: string) => new Date(iso);
const parse = (spec: Record<string, unknown>) => cronSpec.parse(spec);
const issues = (spec: Record<string, unknown>) =>
  cronSpec.safeParse(spec).error?.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`) ?? [];

describe('cron ticks', () => {
  it('every: ticks aligned to the Unix epoch, strictly after the given time', () => {
    const spec = parse({ every: 5000 });
    expect(nextTick(spec, at('2026-03-01T10:00:02.345Z'))).toEqual(at('2026-03-01T10:00:05.000Z'));
    // A tick time itself gives the next one, never the same (no tick fired twice by one process).
    expect(nextTick(spec, at('2026-03-01T10:00:05.000Z'))).toEqual(at('2026-03-01T10:00:10.000Z'));
  });

  it('every: two replicas started at different moments agree on the ticks', () => {
    const spec = parse({ every: 60_000 });
    const first = nextTick(spec, at('2026-03-01T10:00:00.001Z'));
    const second = nextTick(spec, at('2026-03-01T10:00:59.999Z'));
    expect(first).toEqual(second);
  });

  it('schedule: six fields read seconds first; five fields tick on the minute', () => {
    expect(nextTick(parse({ schedule: '*/15 * * * * *' }), at('2026-03-01T10:00:16Z'))).toEqual(
      at('2026-03-01T10:00:30Z'),
    );
    expect(nextTick(parse({ schedule: '*/5 * * * *' }), at('2026-03-01T10:01:00Z'))).toEqual(
      at('2026-03-01T10:05:00Z'),
    );
  });

  it('schedule: read in its time zone (09:00 in Berlin is 08:00 UTC in winter, 07:00 in summer)', () => {
    const spec = parse({ schedule: '0 9 * * *', timezone: 'Europe/Berlin' });
    expect(nextTick(spec, at('2026-01-15T12:00:00Z'))).toEqual(at('2026-01-16T08:00:00Z'));
    expect(nextTick(spec, at('2026-07-15T12:00:00Z'))).toEqual(at('2026-07-16T07:00:00Z'));
    expect(nextTick(parse({ schedule: '0 9 * * *' }), at('2026-07-15T12:00:00Z'))).toEqual(
      at('2026-07-16T09:00:00Z'),
    );
  });

  it('the tick id is the trigger and the scheduled epoch millisecond, the same in every process', () => {
    const tick = nextTick(parse({ every: 1000 }), at('2026-03-01T10:00:00.500Z'));
    const id = cronEventId('default/tick', tick);
    // The trigger key is one component of the id, its slash escaped.
    expect(id).toBe(`cron/default%2Ftick/${at('2026-03-01T10:00:01Z').getTime()}`);
    expect(cronEventId('default/tick', new Date(tick.getTime()))).toBe(id);
    expect(cronEventId('default/other', tick)).not.toBe(id);
  });
});

describe('the cron spec', () => {
  it('takes exactly one of schedule and every', () => {
    expect(issues({ schedule: '* * * * *', every: 1000 })).toEqual([': set exactly one of schedule, every']);
    expect(issues({})).toEqual([': set exactly one of schedule, every']);
    expect(issues({ every: 999 })).toHaveLength(1);
    expect(parse({ every: 1000 })).toMatchObject({ every: 1000, timezone: 'UTC' });
  });

  it('refuses an unknown time zone and a bad expression, naming the field', () => {
    expect(issues({ schedule: '* * * * *', timezone: 'Mars/Olympus' })).toEqual([
      'timezone: unknown time zone "Mars/Olympus"',
    ]);
    const [bad] = issues({ schedule: '61 * * * *' });
    expect(bad).toMatch(/^schedule: invalid cron expression: /);
  });
});
