// The flags of `npm run bench`:
//
//   npm run bench -- [--source webhook,kafka,jetstream] [--sources] [--only hub|baseline] [--n 20000] [--warmup 2000] [--rate 1000] [--concurrency 64]
//                    [--delivery-concurrency 64] [--db 9] [--rounds 1] [--profile DIR] [--out FILE] [--verbose]
//                    [--harness DIR] [--max-s S] [--skip scale,triggers]
//
// --source: which sources to run (default all three); --sources adds the Kinesis → function and ingest-only
// benches of sensors/*/bench.ts.
// --rounds K: K rounds (alternating which system goes first); each figure is the median over the rounds.
// --profile DIR: warm-up + saturated run only, with `node --cpu-prof` on the system's process; the profiles land
// in DIR/<system> and their hot spots are printed (scripts/bench/profile-summary.ts).
// --skip: leave out the scaling run (scale) and the 1,000-trigger run (triggers).

import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { repoRoot } from '../services/lib/paths.ts';
import type { BrokerKind } from './brokers.ts';

export type SourceName = 'webhook' | BrokerKind;
export type SystemName = 'hub' | 'baseline';

export interface Settings {
  /** Which systems run, in the order of the first round. */
  systems: SystemName[];
  sources: SourceName[];
  /** Events per measured run, and in each warm-up before it. */
  n: number;
  warmup: number;
  /** Events/s of the fixed-rate run. */
  rate: number;
  /** Requests in flight from load.mjs (saturated run). */
  loadConcurrency: number;
  /** `delivery.concurrency` of the hub's Trigger, and the baseline's Worker concurrency. */
  deliveryConcurrency: number;
  /** The dedicated Redis database index, flushed before each system. */
  db: number;
  rounds: number;
  profile: string | undefined;
  out: string | undefined;
  verbose: boolean;
  /** sink.mjs and load.mjs. */
  harnessDir: string;
  /** The whole bench's watchdog, in seconds. */
  maxS: number;
  /** Also run the source benches of sensors/<kind>/ (--sources). */
  sourceBenches: boolean;
  /** Extra runs left out (--skip scale,triggers). */
  skip: Set<string>;
}

export function readSettings(argv = process.argv.slice(2)): Settings {
  const { values: args } = parseArgs({
    args: argv,
    options: {
      only: { type: 'string' },
      n: { type: 'string', default: '20000' },
      warmup: { type: 'string', default: '2000' },
      rate: { type: 'string', default: '1000' },
      concurrency: { type: 'string', default: '64' },
      'delivery-concurrency': { type: 'string', default: '64' },
      db: { type: 'string', default: '9' },
      profile: { type: 'string' },
      out: { type: 'string' },
      verbose: { type: 'boolean', default: false },
      rounds: { type: 'string', default: '1' },
      harness: { type: 'string' },
      'max-s': { type: 'string' },
      sources: { type: 'boolean', default: false },
      source: { type: 'string', default: 'webhook,kafka,jetstream' },
      skip: { type: 'string', default: '' },
    },
  });
  const sources = args.source.split(',').map((name) => name.trim()) as SourceName[];
  for (const name of sources)
    if (!['webhook', 'kafka', 'jetstream'].includes(name))
      throw new Error(`--source: unknown source ${name}`);
  const rounds = Math.max(1, Number(args.rounds));
  return {
    systems: args.only === 'hub' || args.only === 'baseline' ? [args.only] : ['baseline', 'hub'],
    sources,
    n: Number(args.n),
    warmup: Number(args.warmup),
    rate: Number(args.rate),
    loadConcurrency: Number(args.concurrency),
    deliveryConcurrency: Number(args['delivery-concurrency']),
    db: Number(args.db),
    rounds,
    profile: args.profile,
    out: args.out,
    verbose: args.verbose,
    // ../shared/bench from the repository root, unless --harness says otherwise.
    harnessDir: resolve(args.harness ?? resolve(repoRoot, '../shared/bench')),
    // By default 15 minutes per source and round (a loaded 2-core box needs ~7).
    maxS: Number(args['max-s'] ?? 900 * rounds * sources.length),
    sourceBenches: args.sources,
    skip: new Set(args.skip.split(',')),
  };
}
