import { defineConfig } from 'vitest/config';

// Two projects: unit tests of pure logic run without any server; integration and end-to-end (browser)
// tests get the real services (Redis, NATS, Kafka, kinesalite, MinIO, kube-apiserver) from the project's
// own service stack.
export default defineConfig({
  test: {
    reporters: ['default'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'sensors/**/*.unit.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'sensors/**/*.int.test.ts', 'test/e2e/**/*.test.ts'],
          globalSetup: ['test/setup/services.ts'],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
