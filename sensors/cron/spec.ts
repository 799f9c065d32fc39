import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';

function cronError(schedule: string, timezone: string): string | undefined {
  try {
    CronExpressionParser.parse(schedule, { tz: timezone, currentDate: new Date() }).next();
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

function isTimeZone(timezone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: timezone });
    return true;
  } catch {
    return false;
  }
}

export const cronSpec = z
  .object({
    schedule: z
      .string()
      .min(1)
      .optional()
      .describe('Cron expression, 5 fields or 6 with seconds first (e.g. "*/5 * * * * *"), or @daily etc.'),
    every: z
      .int()
      .min(1000)
      .optional()
      .describe('Fire every N milliseconds, aligned to the Unix epoch (so every replica agrees on the tick)'),
    timezone: z.string().default('UTC').describe('IANA time zone the schedule is read in'),
    data: z
      .record(z.string(), z.unknown())
      .optional()
      .describe('Event data, a JSON object; defaults to {"scheduledTime": ...}'),
  })
  .superRefine((spec, ctx) => {
    if ((spec.schedule === undefined) === (spec.every === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'set exactly one of schedule, every' });
    }
    if (!isTimeZone(spec.timezone)) {
      ctx.addIssue({ code: 'custom', path: ['timezone'], message: `unknown time zone "${spec.timezone}"` });
      return;
    }
    if (spec.schedule !== undefined) {
      const error = cronError(spec.schedule, spec.timezone);
      if (error)
        ctx.addIssue({ code: 'custom', path: ['schedule'], message: `invalid cron expression: ${error}` });
    }
  })
  .meta({
    'x-kubernetes-validations': [
      { rule: 'has(self.schedule) != has(self.every)', message: 'set exactly one of schedule, every' },
    ],
  });

export type CronSpec = z.output<typeof cronSpec>;

/** The first tick strictly after `after`. */
export function nextTick(spec: CronSpec, after: Date): Date {
  if (spec.every !== undefined) {
    return new Date((Math.floor(after.getTime() / spec.every) + 1) * spec.every);
  }
  return CronExpressionParser.parse(spec.schedule!, { tz: spec.timezone, currentDate: after })
    .next()
    .toDate();
}
