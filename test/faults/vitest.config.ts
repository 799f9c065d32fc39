import { resolve } from 'node:path';
import { defineConfig } from 'vitest/config';

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
    // The suite's order is its order of value: hub kills first.
    sequence: { shuffle: false },
  },
});
