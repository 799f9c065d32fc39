// One trigger at work: its sensor emits through the filter into its queue; its dispatcher delivers.
//   sensor ──emit──▶ filter ──▶ EventQueue (addBulk) ═ Redis ═▶ dispatcher (Worker) ──▶ target

import type { Logger } from 'pino';
import { createDispatcher } from '../dispatch/dispatcher.ts';
import { type Dispatch, eagerDispatch, LazyDispatch } from '../dispatch/lazy-dispatcher.ts';
import type { DispatchWaker } from '../dispatch/waker.ts';
import { type EventInput, toHubEvent } from '../envelope/event.ts';
import { compileFilter } from '../filter/filter.ts';
import type { Instrumentation } from '../instrumentation.ts';
import { EventQueue } from '../queue/event-queue.ts';
import type { EventJobData } from '../queue/job.ts';
import { queueName, triggerStateKey } from '../queue/keys.ts';
import { OrderedQueue, releaseOrderedBacklog } from '../queue/ordered-queue.ts';
import type { RedisClient } from '../queue/redis.ts';
import { builtinSensors } from '../registry.ts';
import { enqueueRetryBackoff, retry } from '../retry/backoff.ts';
import { createEmitDurably } from '../sensor/emit-durably.ts';
import type {
  Emit,
  Sensor,
  SensorFactory,
  SensorHealth,
  TriggerRef,
  WebhookRoutes,
} from '../sensor/sensor.ts';
import { createTarget } from '../targets/index.ts';
import type { Target } from '../targets/target.ts';
import { sourceKindOf, type Trigger } from '../trigger/schema.ts';

export interface TriggerEnvironment {
  producer: RedisClient;
  workerConnection: RedisClient;
  webhooks: WebhookRoutes;
  instrumentation: Instrumentation;
  log: Logger;
  /** Run the dispatcher in this process (false for an ingest-only hub). */
  dispatch: boolean;
  /** Set: each trigger's Worker runs only while its queue has work (see src/dispatch/waker.ts). */
  waker?: DispatchWaker;
  /** How long a lazy dispatcher's Worker stays without work before it is closed. */
  dispatchIdleMs?: number;
}

export function triggerRef(trigger: Trigger): TriggerRef {
  const { namespace, name } = trigger.metadata;
  return { namespace, name, key: `${namespace}/${name}` };
}

export class RunningTrigger {
  readonly ref: TriggerRef;
  readonly trigger: Trigger;
  /** Per-key ordered delivery wraps the same BullMQ queue (src/queue/ordered-queue.ts). */
  readonly queue: EventQueue | OrderedQueue;
  /** The target, shared with the trigger's backfills (one connection pool). */
  readonly target: Target;
  readonly log: Logger;
  private readonly env: TriggerEnvironment;
  private sensor: Sensor | undefined;
  private dispatch: Dispatch | undefined;
  private readonly abort = new AbortController();

  /** Throws when the target cannot be built (e.g. its secret is missing); nothing is left running then. */
  constructor(trigger: Trigger, env: TriggerEnvironment) {
    this.trigger = trigger;
    this.env = env;
    this.ref = triggerRef(trigger);
    this.log = env.log.child({ trigger: this.ref.key, source: sourceKindOf(trigger.spec) });
    this.target = createTarget(trigger.spec.target, trigger.spec.delivery);
    const events = new EventQueue(this.ref, env.producer, trigger.spec.delivery);
    const ordering = trigger.spec.delivery.ordering;
    const { capabilities } = builtinSensors[sourceKindOf(trigger.spec)];
    this.queue =
      ordering?.mode === 'per-key'
        ? new OrderedQueue({
            trigger: this.ref,
            connection: env.producer,
            events,
            ordering,
            ...(capabilities?.sourceOrderOf ? { sourceOrderOf: capabilities.sourceOrderOf } : {}),
            log: this.log,
          })
        : events;
  }

  /**
   * Loads the sensor's implementation (its client library is loaded on first use), starts it and the
   * dispatcher. Throws (a HubError or the sensor's own error) when the trigger cannot start; nothing is
   * left running then.
   */
  async start(): Promise<void> {
    const { spec } = this.trigger;
    const kind = sourceKindOf(spec);
    const env = this.env;
    try {
      const create = (await builtinSensors[kind].load()) as SensorFactory;
      const emit = createEmit(this.ref, this.queue, compileFilter(spec.filter), env.instrumentation);
      this.sensor = create(spec.source[kind], {
        trigger: this.ref,
        emit,
        emitDurably: createEmitDurably({
          emit,
          trigger: this.ref.key,
          log: this.log,
          signal: this.abort.signal,
          instrumentation: env.instrumentation,
        }),
        log: this.log,
        webhooks: env.webhooks,
        state: { redis: env.producer, key: (...parts) => triggerStateKey(this.ref, ...parts) },
        signal: this.abort.signal,
      });
      if (env.dispatch) {
        const sensor = this.sensor;
        const createWorker = () => {
          const worker = createDispatcher({
            trigger: this.ref,
            connection: env.workerConnection,
            delivery: spec.delivery,
            target: this.target,
            sensor,
            instrumentation: env.instrumentation,
            log: this.log,
          });
          // Per-key order moves a key on when its head job finishes (every Worker, lazy ones too).
          if (this.queue instanceof OrderedQueue) this.queue.attach(worker);
          env.instrumentation.emit('dispatch.workers', this.ref.key, 1);
          worker.once('closed', () => env.instrumentation.emit('dispatch.workers', this.ref.key, -1));
          return worker;
        };
        this.dispatch = env.waker
          ? new LazyDispatch({
              queue: queueName(this.ref),
              waker: env.waker,
              createWorker,
              pendingJobs: async () => {
                const counts = await this.queue.queue.getJobCounts(
                  'waiting',
                  'delayed',
                  'prioritized',
                  'active',
                );
                return Object.values(counts).reduce((sum, count) => sum + count, 0);
              },
              idleMs: env.dispatchIdleMs ?? 30_000,
            })
          : eagerDispatch(createWorker());
      }
      if (this.queue instanceof OrderedQueue) {
        this.queue.startRepair();
      } else {
        // Events left in key FIFOs by an ordered configuration of this trigger: not lost by switching it off.
        // Retried until Redis answers (it may be away while the hub starts), and given up only when it stops.
        const queue = this.queue;
        retry(() => releaseOrderedBacklog(this.ref, env.producer, queue), {
          policy: enqueueRetryBackoff,
          signal: this.abort.signal,
          onRetry: (error, attempt, delayMs) => {
            if (attempt === 1)
              this.log.warn(
                { err: error, delayMs },
                'could not check for events left in key FIFOs; retrying',
              );
          },
        }).then(
          (released) => {
            if (released > 0)
              this.log.info({ released }, 'ordering off: queued the events left in key FIFOs');
          },
          () => {}, // stopped before Redis answered; the next start checks again
        );
      }
      await this.sensor.start();
    } catch (error) {
      await this.stop(0).catch(() => {});
      throw error;
    }
  }

  /** The sensor's delivery hooks (reply and error topics), for the trigger's backfill dispatcher too. */
  deliveryHooks(): Pick<Sensor, 'onDelivered' | 'onDeadLettered'> {
    const sensor = this.sensor;
    return {
      ...(sensor?.onDelivered ? { onDelivered: sensor.onDelivered.bind(sensor) } : {}),
      ...(sensor?.onDeadLettered ? { onDeadLettered: sensor.onDeadLettered.bind(sensor) } : {}),
    };
  }

  /** Aborted when the trigger is stopped (or replaced by a changed version). */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  health(): SensorHealth {
    return this.sensor?.health() ?? { connected: false, message: 'starting' };
  }

  /** Stops the sensor, then lets in-flight deliveries finish until the deadline (the rest are re-queued). */
  async stop(deadlineMs: number): Promise<void> {
    this.abort.abort();
    await this.sensor?.stop();
    await this.dispatch?.close(deadlineMs);
    await this.queue.close();
    await this.target.close();
  }
}

function createEmit(
  ref: TriggerRef,
  queue: EventQueue | OrderedQueue,
  filter: ReturnType<typeof compileFilter>,
  instrumentation: Instrumentation,
): Emit {
  return async (inputs: EventInput[]) => {
    instrumentation.emit('events.received', ref.key, inputs.length);
    const accepted: EventJobData[] = [];
    let filtered = 0;
    for (const input of inputs) {
      if (input.poison !== undefined) {
        accepted.push({ event: toHubEvent(input), poison: input.poison });
        continue;
      }
      const verdict = filter(input);
      if (verdict.match) accepted.push({ event: toHubEvent(input) });
      else {
        filtered++;
        if (verdict.error) instrumentation.emit('events.filter-error', ref.key, verdict.error);
      }
    }
    if (filtered > 0) instrumentation.emit('events.filtered', ref.key, filtered);
    try {
      await queue.enqueue(accepted);
    } catch (error) {
      instrumentation.emit('events.enqueue-failed', ref.key, accepted.length, error);
      throw error;
    }
    if (accepted.length > 0) instrumentation.emit('events.enqueued', ref.key, accepted.length);
    return { enqueued: accepted.length, filtered };
  };
}
