import { resolve } from 'node:path';
import { defineConfig } from 'vitest/config';

// End-to-end tests: a real hub, the real services and a headless Chromium. `npm run test:e2e`.
export default defineConfig({
  root: resolve(import.meta.dirname, '../..'),
  test: {
    include: ['test/e2e/**/*.test.ts'],
    globalSetup: ['test/setup/services.ts'],
    testTimeout: 300_000,
    hookTimeout: 600_000,
    fileParallelism: false,
  },
});
