// `npm run test:fuzz`: every fuzz (property-based) suite, unit and integration, then the total number of
// cases they ran. Each suite appends its count to a tally file (test/support/fuzz.ts); this sums it.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const tally = join(mkdtempSync(join(tmpdir(), 'th-fuzz-')), 'tally.jsonl');
const vitest = join(import.meta.dirname, '../node_modules/.bin/vitest');
const runs = [
  ['run', '--project', 'unit', 'test/unit/fuzz'],
  ['run', '--project', 'integration', 'test/integration/fuzz'],
];
let failed = false;
for (const args of runs) {
  const result = spawnSync(vitest, args, { stdio: 'inherit', env: { ...process.env, TH_FUZZ_TALLY: tally } });
  if (result.status !== 0) failed = true;
}
const suites = readFileSync(tally, 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((line) => JSON.parse(line) as { name: string; cases: number });
for (const suite of suites) console.log(`${String(suite.cases).padStart(7)}  ${suite.name}`);
const total = suites.reduce((sum, suite) => sum + suite.cases, 0);
console.log(`${String(total).padStart(7)}  fuzz cases in all${failed ? ' (SOME FAILED)' : ', 0 failures'}`);
process.exit(failed ? 1 : 0);
