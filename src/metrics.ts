// Prometheus metrics, fed by instrumentation events. Labels are bounded: `trigger` (namespace/name) and
// small enums, never ids, URLs or secrets. The metrics autoscalers read (docs/scaling.md) also carry
// `trigger_namespace` and `trigger_name`: a Kubernetes label selector (an HPA's External metric) cannot hold
// the `/` of `trigger`, and prometheus-adapter maps `trigger_namespace` to the HPA's namespace.

import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Instrumentation } from './instrumentation.ts';
import type { QueueStats } from './queue/queue-stats.ts';

export interface QueueStatsSource {
  /** Per running trigger: what its queue holds. */
  queueStats(): Promise<Array<{ trigger: string; stats: QueueStats }>>;
}

/** The names autoscalers use; the rules in deploy/ and the controller's HPAs refer to these. */
export const scalingMetrics = {
  delivered: 'trigger_hub_events_delivered_total',
  backlog: 'trigger_hub_queue_backlog',
  inFlight: 'trigger_hub_deliveries_in_flight',
} as const;

const scalingLabelNames = ['trigger', 'trigger_namespace', 'trigger_name'] as const;
type ScalingLabels = Record<(typeof scalingLabelNames)[number], string>;

/** `ns/name` → the three labels, made once per trigger (delivered.inc runs per event). */
function scalingLabelsOf(cache: Map<string, ScalingLabels>, trigger: string): ScalingLabels {
  let labels = cache.get(trigger);
  if (!labels) {
    const slash = trigger.indexOf('/');
    labels = {
      trigger,
      trigger_namespace: slash < 0 ? '' : trigger.slice(0, slash),
      trigger_name: trigger.slice(slash + 1),
    };
    cache.set(trigger, labels);
  }
  return labels;
}

export function createMetrics(instrumentation: Instrumentation, source: QueueStatsSource): Registry {
  const registry = new Registry();
  const labelNames = ['trigger'] as const;
  const counter = (name: string, help: string, extra: string[] = []) =>
    new Counter({ name, help, labelNames: [...labelNames, ...extra], registers: [registry] });

  const received = counter('trigger_hub_events_received_total', 'Events a sensor handed to the hub');
  const filtered = counter('trigger_hub_events_filtered_total', 'Events dropped by the trigger filter');
  const filterErrors = counter(
    'trigger_hub_filter_errors_total',
    'Filter expressions that failed on an event',
  );
  const enqueued = counter('trigger_hub_events_enqueued_total', 'Events written durably to the queue');
  const enqueueFailed = counter(
    'trigger_hub_enqueue_failures_total',
    'Events not written because Redis failed',
  );
  const sourceRetries = counter(
    'trigger_hub_source_retries_total',
    'Sensor emits retried because the queue could not take them (nothing acknowledged at the source meanwhile)',
  );
  const scalingLabels = new Map<string, ScalingLabels>();
  const labelsOf = (trigger: string) => scalingLabelsOf(scalingLabels, trigger);
  const delivered = new Counter({
    name: scalingMetrics.delivered,
    help: 'Events the target accepted (2xx); rate() of it is the delivered qps an HPA scales a function on',
    labelNames: scalingLabelNames,
    registers: [registry],
  });
  const inFlight = new Gauge({
    name: scalingMetrics.inFlight,
    help: 'Delivery requests this hub process has open to the target right now',
    labelNames: scalingLabelNames,
    registers: [registry],
  });
  const failed = counter('trigger_hub_delivery_failures_total', 'Failed delivery attempts', ['will_retry']);
  const deadLettered = counter(
    'trigger_hub_events_dead_lettered_total',
    'Events moved to the dead-letter queue',
    ['reason'],
  );
  const replayed = counter('trigger_hub_events_replayed_total', 'Dead-lettered events replayed');
  // Backfills have their own counters: their events are old on purpose, so they stay out of the live
  // delivery counters, latency and event-age histograms and the oldest-event gauge (docs/backfill.md).
  const backfillDelivered = counter(
    'trigger_hub_backfill_events_delivered_total',
    'Backfilled events the target accepted (2xx)',
  );
  const backfillDeadLettered = counter(
    'trigger_hub_backfill_events_dead_lettered_total',
    "Backfilled events moved to the backfill queue's dead-letter set",
    ['reason'],
  );
  const latency = new Histogram({
    name: 'trigger_hub_delivery_duration_seconds',
    help: 'Duration of successful delivery requests',
    labelNames,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const age = new Histogram({
    name: 'trigger_hub_event_age_at_delivery_seconds',
    help: 'Time from the event (its `time`) to its successful delivery',
    labelNames,
    buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 60, 300, 1800, 3600],
    registers: [registry],
  });
  const batchSize = new Histogram({
    name: 'trigger_hub_delivery_batch_size',
    help: 'Events per batched delivery request (delivery.batch; split halves are requests of their own)',
    labelNames,
    buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000],
    registers: [registry],
  });
  // One read of every queue per scrape feeds both gauges.
  let snapshot: Promise<Array<{ trigger: string; stats: QueueStats }>> | undefined;
  const stats = () => {
    snapshot ??= source
      .queueStats()
      .catch(() => []) // Redis away: the gauges go empty, the counters still answer
      .finally(() => setImmediate(() => (snapshot = undefined)));
    return snapshot;
  };
  new Gauge({
    name: 'trigger_hub_queue_depth',
    help: 'Jobs in the trigger queue by state (waiting + delayed + prioritized is the backlog)',
    labelNames: [...labelNames, 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const { trigger, stats: current } of await stats()) {
        for (const [state, count] of Object.entries(current.counts)) this.set({ trigger, state }, count);
      }
    },
  });
  new Gauge({
    name: scalingMetrics.backlog,
    help: 'Events not yet delivered: waiting + delayed (retrying) + prioritized. The queue is shared, so every hub replica reports the same value: use max by (trigger)',
    labelNames: scalingLabelNames,
    registers: [registry],
    async collect() {
      this.reset();
      for (const { trigger, stats: current } of await stats()) {
        const { waiting, delayed, prioritized } = current.counts;
        this.set(labelsOf(trigger), waiting + delayed + prioritized);
      }
    },
  });
  new Gauge({
    name: 'trigger_hub_oldest_undelivered_event_age_seconds',
    help: 'Age (from its source time) of the oldest event not yet delivered; 0 when the queue is drained',
    labelNames,
    registers: [registry],
    async collect() {
      this.reset();
      const now = Date.now();
      for (const { trigger, stats: current } of await stats()) {
        const oldest = current.oldestUndeliveredMs;
        this.set({ trigger }, oldest === undefined ? 0 : Math.max(0, (now - oldest) / 1000));
      }
    },
  });

  instrumentation.on('events.received', (trigger, count) => received.inc({ trigger }, count));
  instrumentation.on('events.filtered', (trigger, count) => filtered.inc({ trigger }, count));
  instrumentation.on('events.filter-error', (trigger) => filterErrors.inc({ trigger }));
  instrumentation.on('events.enqueued', (trigger, count) => enqueued.inc({ trigger }, count));
  instrumentation.on('events.enqueue-failed', (trigger, count) => enqueueFailed.inc({ trigger }, count));
  instrumentation.on('source.retrying', (trigger) => sourceRetries.inc({ trigger }));
  instrumentation.on('delivery.succeeded', (trigger, _status, durationMs, ageMs) => {
    delivered.inc(labelsOf(trigger));
    latency.observe({ trigger }, durationMs / 1000);
    age.observe({ trigger }, ageMs / 1000);
  });
  instrumentation.on('delivery.started', (trigger) => inFlight.inc(labelsOf(trigger)));
  instrumentation.on('delivery.settled', (trigger) => inFlight.dec(labelsOf(trigger)));
  instrumentation.on('delivery.failed', (trigger, _status, _ms, willRetry) =>
    failed.inc({ trigger, will_retry: String(willRetry) }),
  );
  instrumentation.on('delivery.batch', (trigger, size) => batchSize.observe({ trigger }, size));
  instrumentation.on('delivery.dead-lettered', (trigger, reason) => deadLettered.inc({ trigger, reason }));
  instrumentation.on('dlq.replayed', (trigger, count) => replayed.inc({ trigger }, count));
  const workers = new Gauge({
    name: 'trigger_hub_dispatch_workers',
    help: 'Delivery Workers running in this process (lazy dispatch closes those of idle triggers)',
    registers: [registry],
  });
  instrumentation.on('dispatch.workers', (_trigger, delta) => workers.inc(delta));
  instrumentation.on('backfill.delivered', (trigger) => backfillDelivered.inc({ trigger }));
  instrumentation.on('backfill.dead-lettered', (trigger, reason) =>
    backfillDeadLettered.inc({ trigger, reason }),
  );
  return registry;
}
