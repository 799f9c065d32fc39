// The example source of ARCHITECTURE.md's "Add a source in 10 minutes" (test/integration/walkthrough/): the
// zod schema of `spec.source.counter`. Kept under test/, never shipped: the walk-through's test copies this
// folder to sensors/counter/ of a copy of the tree and adds its line to that copy's src/registry.ts.

import { z } from 'zod';

export const counterSpec = z
  .object({
    count: z.int().min(1).max(10_000).describe('How many events to emit, numbered 1..count'),
    intervalMs: z.int().min(1).default(100).describe('Time between two events'),
  })
  .describe('Counts from 1 to count, one event per interval (an example source)');

export type CounterSpec = z.output<typeof counterSpec>;
