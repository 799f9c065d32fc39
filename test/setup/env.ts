// The stack's connection settings for tests: one reader, in scripts/services/lib/ (benches use it too, and
// scripts must not import test code).
export * from '../../scripts/services/lib/service-env.ts';
