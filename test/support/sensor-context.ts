// A SensorContext with no hub behind it, for a sensor's unit tests: the emit the test passes is the seam (its
// `emitDurably` is the hub's own retrier around it, as src/engine/running-trigger.ts builds it), and the
// handler a push sensor (webhook, MinIO) registers is kept for the test to call.

import type { Redis } from 'ioredis';
import { pino } from 'pino';
import type { EventInput } from '../../src/envelope/event.ts';
import { createEmitDurably } from '../../src/sensor/emit-durably.ts';
import type { Emit, SensorContext, WebhookHandler, WebhookRequest } from '../../src/sensor/sensor.ts';

/** Completes a hand-built context with the hub's retrier around its `emit`. */
export function sensorContext(context: Omit<SensorContext, 'emitDurably'>): SensorContext {
  const { emit, trigger, log, signal } = context;
  return { ...context, emitDurably: createEmitDurably({ emit, trigger: trigger.key, log, signal }) };
}

export interface UnitContext {
  context: SensorContext;
  /** The handler the sensor registered for its route (throws if it registered none). */
  handler(): WebhookHandler;
  /** The path it registered. */
  path(): string | undefined;
}

/** A context for trigger `default/<name>` whose emit is `emit`; no Redis (a sensor touching state fails). */
export function unitContext(emit: Emit, name = 'objects'): UnitContext {
  let registered: { path: string; handler: WebhookHandler } | undefined;
  const context = sensorContext({
    trigger: { namespace: 'default', name, key: `default/${name}` },
    emit,
    log: pino({ level: 'silent' }),
    webhooks: {
      register: (path, handler) => {
        registered = { path, handler };
        return () => {
          registered = undefined;
        };
      },
    },
    state: { redis: undefined as unknown as Redis, key: (...parts) => parts.join(':') },
    signal: new AbortController().signal,
  });
  return {
    context,
    handler: () => {
      if (!registered) throw new Error('the sensor registered no webhook route');
      return registered.handler;
    },
    path: () => registered?.path,
  };
}

/** An emit that keeps every batch it is handed and takes them all. */
export function recordingEmit(): { batches: EventInput[][]; emit: Emit } {
  const batches: EventInput[][] = [];
  const emit: Emit = async (events) => {
    batches.push(events);
    return { enqueued: events.length, filtered: 0 };
  };
  return { batches, emit };
}

/** A POST as the hub's server hands it to a push sensor. */
export function postRequest(body: Buffer | string, headers: WebhookRequest['headers'] = {}): WebhookRequest {
  return { method: 'POST', subpath: '', headers, query: {}, body: Buffer.from(body) };
}
