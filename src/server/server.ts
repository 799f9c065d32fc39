// The hub's HTTP server: each feature is its own Fastify plugin (webhooks, health, metrics, API).

import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Engine } from '../engine/engine.ts';
import type { Instrumentation } from '../instrumentation.ts';
import { apiPlugin } from './api.ts';
import { dashboardPlugin } from './dashboard/index.ts';
import { sendError, toHubError } from './errors.ts';
import { type WebhookRouteTable, webhookPlugin } from './webhook-routes.ts';

export interface ServerOptions {
  log: Logger;
  engine: Engine;
  instrumentation: Instrumentation;
  webhooks: WebhookRouteTable;
  metrics: Registry;
  /** Resolves when Redis answers; /readyz fails otherwise. */
  ready: () => Promise<boolean>;
  apiToken: string | undefined;
  maxBodyBytes: number;
}

export function buildServer(options: ServerOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: options.log.child({ component: 'http' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.maxBodyBytes,
    // Keep-alive for senders that batch: the peer load harness uses one pool of connections.
    keepAliveTimeout: 65_000,
    return503OnClosing: true,
  });
  app.setErrorHandler((error, request, reply) => {
    const hubError = toHubError(error as Error);
    if (hubError.status >= 500) request.log.warn({ err: error }, 'request failed');
    return sendError(reply, hubError);
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const redis = await options.ready().catch(() => false);
    const triggers = options.engine.list();
    const body = {
      status: redis ? 'ready' : 'not ready',
      redis: redis ? 'ok' : 'unreachable',
      triggers: {
        running: triggers.filter((t) => t.state === 'running').length,
        failed: triggers.filter((t) => t.state !== 'running').length,
      },
    };
    return reply.code(redis ? 200 : 503).send(body);
  });
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', options.metrics.contentType);
    return options.metrics.metrics();
  });
  app.register(apiPlugin(options.engine, options.instrumentation, options.apiToken));
  app.register(webhookPlugin(options.webhooks, options.maxBodyBytes, () => !options.engine.applied));
  app.register(dashboardPlugin(options));
  return app;
}
