// A push source (webhook, MinIO notifications) is a route: served while the sensor runs, connected while it
// is served. The source's handler does the rest (auth, parsing, one emit per request).

import type { Sensor, SensorContext, WebhookRequest, WebhookResponse } from './sensor.ts';

export interface PushRoute {
  /** Below /webhooks/; the trigger's `namespace/name` when the spec names none. */
  path?: string | undefined;
  bodyLimitBytes: number;
}

/**
 * The Sensor of a push source. `handle` calls `received()` once events of a request are durable, which the
 * sensor's health reports as `lastEventAt`.
 */
export function pushSensor(
  context: Pick<SensorContext, 'trigger' | 'webhooks'>,
  route: PushRoute,
  handle: (request: WebhookRequest, received: () => void) => Promise<WebhookResponse>,
): Sensor {
  let unregister: (() => void) | undefined;
  let lastEventAt: string | undefined;
  const received = () => {
    lastEventAt = new Date().toISOString();
  };
  return {
    async start() {
      unregister = context.webhooks.register(
        route.path ?? context.trigger.key,
        (request) => handle(request, received),
        { bodyLimitBytes: route.bodyLimitBytes },
      );
    },
    async stop() {
      unregister?.();
    },
    health: () => ({ connected: true, ...(lastEventAt ? { lastEventAt } : {}) }),
  };
}
