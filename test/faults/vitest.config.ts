import { resolve } from 'node:path';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

// The suite's order is its order of value (hub kills first); vitest would otherwise order files by their
// last durations.
const order = ['hub-kill', 'redis', 'brokers', 'target', 'shutdown'];
const rank = (spec: TestSpecification) => {
  const index = order.findIndex((name) => spec.moduleId.endsWith(`/${name}.test.ts`));
  return index < 0 ? order.length : index;
};

class ValueOrder extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    return [...files].sort((a, b) => rank(a) - rank(b));
  }
}

// The fault suite (`npm run test:faults`): hubs killed, services restarted and cut, targets failing, under
// load, counting produced against delivered events. Its global setup starts private service instances (the
// scenarios restart them; the shared stack is left alone). Scenarios run one after the other, never together.
export default defineConfig({
  root: resolve(import.meta.dirname, '../..'),
  test: {
    include: ['test/faults/**/*.test.ts'],
    globalSetup: ['test/faults/setup.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    fileParallelism: false,
    sequence: { sequencer: ValueOrder },
  },
});
