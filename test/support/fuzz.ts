// Property-based (fuzz) tests count the cases they run: each file prints its total when it is done, and
// when TH_FUZZ_TALLY names a file (npm run test:fuzz), appends it there so the run can print the sum.

import { appendFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll } from 'vitest';

export interface FuzzTally {
  /** Runs a property like fc.assert, counting its cases; a failure throws fast-check's report (with the seed). */
  check<Ts>(property: fc.IRawProperty<Ts>, params: fc.Parameters<Ts>): Promise<void>;
  /** Cases that are not a fast-check property (e.g. a batch of malformed broker messages). */
  add(cases: number): void;
}

/**
 * TH_FUZZ_SCALE multiplies every property's case count, for a long soak by hand (`TH_FUZZ_SCALE=50 npm run
 * test:fuzz`); CI runs the counts as written. A failure prints the seed and path to replay it with.
 */
function scaled(count: number): number {
  const scale = Number(process.env.TH_FUZZ_SCALE ?? 1);
  return Number.isFinite(scale) && scale > 0 ? Math.max(1, Math.round(count * scale)) : count;
}

/** A suite's time limit, scaled with its case counts. */
export function fuzzTimeout(ms: number): number {
  return Math.max(ms, scaled(ms));
}

export function fuzzTally(name: string): FuzzTally {
  let cases = 0;
  afterAll(() => {
    console.log(`[fuzz] ${name}: ${cases} cases`);
    const tally = process.env.TH_FUZZ_TALLY;
    if (tally) appendFileSync(tally, `${JSON.stringify({ name, cases })}\n`);
  });
  return {
    async check(property, params) {
      const details = await fc.check(property, { ...params, numRuns: scaled(params.numRuns ?? 100) });
      cases += details.numRuns;
      if (details.failed) {
        const cause = details.errorInstance;
        const reason = cause instanceof Error ? cause.message : String(cause);
        throw new Error(`${fc.defaultReportMessage(details)}\nGot: ${reason}`, { cause });
      }
    },
    add(count) {
      cases += count;
    },
  };
}

/** A listener for unhandled promise rejections over a test's lifetime: none may happen. */
export function watchUnhandledRejections(): { reasons: unknown[]; stop: () => void } {
  const reasons: unknown[] = [];
  const listener = (reason: unknown) => reasons.push(reason);
  process.on('unhandledRejection', listener);
  return { reasons, stop: () => process.off('unhandledRejection', listener) };
}
