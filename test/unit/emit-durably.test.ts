// The one store-then-acknowledge retrier (src/sensor/emit-durably.ts): a sensor acknowledges only what it
// resolved as stored, so every way it can end is checked here with a fake emit.

import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { EventInput } from '../../src/envelope/event.ts';
import { HubError } from '../../src/errors.ts';
import { Instrumentation } from '../../src/instrumentation.ts';
import { createMetrics } from '../../src/metrics.ts';
import { createEmitDurably } from '../../src/sensor/emit-durably.ts';
import type { EmitResult } from '../../src/sensor/sensor.ts';

const fast = { initialMs: 1, maxMs: 2, multiplier: 2, jitter: 0 };
const events: EventInput[] = [
  { id: 'e1', source: '/test', type: 't' },
  { id: 'e2', source: '/test', type: 't' },
];
const stored: EmitResult = { enqueued: 2, filtered: 0 };
const redisAway = () => new HubError('TH_ERR_QUEUE_UNAVAILABLE', 'events not enqueued: connect ECONNREFUSED');

/** An emit that fails `failures` times with `error`, then stores; counts its calls. */
function flakyEmit(failures: number, error: () => unknown = redisAway) {
  const emit = async (_events: EventInput[]): Promise<EmitResult> => {
    emit.calls++;
    if (emit.calls <= failures) throw error();
    return stored;
  };
  emit.calls = 0;
  return emit;
}

function setup(
  emit: (events: EventInput[]) => Promise<EmitResult>,
  { signal = new AbortController().signal, policy = fast } = {},
) {
  const instrumentation = new Instrumentation();
  const retrying: Array<{ trigger: string; attempt: number; delayMs: number }> = [];
  instrumentation.on('source.retrying', (trigger, attempt, delayMs) =>
    retrying.push({ trigger, attempt, delayMs }),
  );
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const emitDurably = createEmitDurably({ emit, trigger: 'ns/t', log, signal, instrumentation, policy });
  return { emitDurably, instrumentation, retrying, lines };
}

describe('emitDurably', () => {
  it('retries a retriable error until the events are stored, reporting and logging every retry', async () => {
    const emit = flakyEmit(3);
    const { emitDurably, retrying, lines } = setup(emit);
    const health: number[] = [];
    await expect(
      emitDurably(events, {
        onRetry: (_error, attempt) => health.push(attempt),
        logFields: { partition: 4 },
      }),
    ).resolves.toEqual(stored);
    expect(emit.calls).toBe(4);
    expect(retrying).toEqual([
      { trigger: 'ns/t', attempt: 1, delayMs: 1 },
      { trigger: 'ns/t', attempt: 2, delayMs: 2 },
      { trigger: 'ns/t', attempt: 3, delayMs: 2 },
    ]);
    expect(health).toEqual([1, 2, 3]);
    expect(
      lines.map(({ attempt, delayMs, events, partition }) => ({ attempt, delayMs, events, partition })),
    ).toEqual([
      { attempt: 1, delayMs: 1, events: 2, partition: 4 },
      { attempt: 2, delayMs: 2, events: 2, partition: 4 },
      { attempt: 3, delayMs: 2, events: 2, partition: 4 },
    ]);
    expect((lines[0]!.err as { message: string }).message).toBe('events not enqueued: connect ECONNREFUSED');
  });

  it('rethrows an error that is not retriable at once', async () => {
    const fatal = new HubError('TH_ERR_QUEUE_UNAVAILABLE', 'cannot ever be written', { retriable: false });
    const emit = flakyEmit(5, () => fatal);
    const { emitDurably, retrying } = setup(emit);
    await expect(emitDurably(events)).rejects.toBe(fatal);
    expect(emit.calls).toBe(1);
    expect(retrying).toEqual([]);
  });

  it('retries an error that carries no code (isRetriable: it may pass)', async () => {
    const emit = flakyEmit(1, () => new Error('socket hang up'));
    const { emitDurably, retrying } = setup(emit);
    await expect(emitDurably(events)).resolves.toEqual(stored);
    expect(retrying).toHaveLength(1);
  });

  it('resolves as stopped, not stored, when the signal aborts during a wait', async () => {
    const abort = new AbortController();
    const emit = flakyEmit(Number.POSITIVE_INFINITY);
    const slow = { initialMs: 60_000, maxMs: 60_000, multiplier: 1, jitter: 0 };
    const { emitDurably } = setup(emit, { signal: abort.signal, policy: slow });
    const result = emitDurably(events, { onRetry: () => abort.abort() });
    await expect(result).resolves.toBeUndefined();
    expect(emit.calls).toBe(1);
  });

  it("stops on the call's own signal, not only on the sensor's", async () => {
    const reader = new AbortController();
    const emit = flakyEmit(Number.POSITIVE_INFINITY);
    const { emitDurably } = setup(emit);
    await expect(emitDurably(events, { signal: reader.signal, onRetry: () => reader.abort() })).resolves.toBe(
      undefined,
    );
    expect(emit.calls).toBe(1);
  });

  it('makes the first attempt even when already stopping (a graceful stop writes what it has), no retry', async () => {
    const abort = new AbortController();
    abort.abort();
    const storing = flakyEmit(0);
    await expect(setup(storing, { signal: abort.signal }).emitDurably(events)).resolves.toEqual(stored);
    const failing = flakyEmit(1);
    const { emitDurably, retrying } = setup(failing, { signal: abort.signal });
    await expect(emitDurably(events)).resolves.toBeUndefined();
    expect(failing.calls).toBe(1);
    expect(retrying).toEqual([]);
  });

  it('gives up before an attempt when stillWanted says no (a revoked partition)', async () => {
    const emit = flakyEmit(Number.POSITIVE_INFINITY);
    const { emitDurably } = setup(emit);
    let wanted = true;
    await expect(
      emitDurably(events, { stillWanted: () => wanted, onRetry: () => (wanted = false) }),
    ).resolves.toBeUndefined();
    expect(emit.calls).toBe(1);
    await expect(emitDurably(events, { stillWanted: () => false })).resolves.toBeUndefined();
    expect(emit.calls).toBe(1);
  });

  it('runs every attempt inside `around` and waits with `wait`, whose error ends it', async () => {
    const emit = flakyEmit(2);
    const { emitDurably } = setup(emit);
    const trace: string[] = [];
    await expect(
      emitDurably(events, {
        around: async (write) => {
          trace.push('slot');
          try {
            return await write();
          } finally {
            trace.push('release');
          }
        },
        wait: async (ms) => {
          trace.push(`wait ${ms}`);
        },
      }),
    ).resolves.toEqual(stored);
    expect(trace).toEqual(['slot', 'release', 'wait 1', 'slot', 'release', 'wait 2', 'slot', 'release']);
    const rebalance = new Error('The group is rebalancing');
    await expect(
      setup(flakyEmit(1)).emitDurably(events, {
        wait: async () => {
          throw rebalance;
        },
      }),
    ).rejects.toBe(rebalance);
  });

  it('counts the retries in trigger_hub_source_retries_total', async () => {
    const { emitDurably, instrumentation } = setup(flakyEmit(2));
    const registry = createMetrics(instrumentation, { queueStats: async () => [] });
    await emitDurably(events);
    const metric = await registry.getSingleMetric('trigger_hub_source_retries_total')!.get();
    expect(metric.values).toEqual([{ value: 2, labels: { trigger: 'ns/t' } }]);
  });
});
