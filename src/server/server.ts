// The hub's HTTP server: each feature is its own Fastify plugin (webhooks, health, metrics, API).

import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { BackfillManager } from '../backfill/manager.ts';
import type { Engine } from '../engine/engine.ts';
import { HubError } from '../errors.ts';
import type { Instrumentation } from '../instrumentation.ts';
import { apiPlugin } from './api.ts';
import { requireClientCertificate } from './client-cert.ts';
import { dashboardPlugin } from './dashboard/index.ts';
import { sendError, toHubError } from './errors.ts';
import { type WebhookRouteTable, webhookPlugin } from './webhook-routes.ts';

export interface ServerOptions {
  log: Logger;
  engine: Engine;
  backfills: BackfillManager;
  instrumentation: Instrumentation;
  webhooks: WebhookRouteTable;
  metrics: Registry;
  /** Resolves when Redis answers; /readyz fails otherwise. */
  ready: () => Promise<boolean>;
  apiToken: string | undefined;
  maxBodyBytes: number;
  /** PEM contents: HTTPS, and with `clientCa` mTLS for /api and /dashboard. */
  tls?: { cert: Buffer; key: Buffer; clientCa?: Buffer };
}

export function buildServer(options: ServerOptions): FastifyInstance {
  const { tls } = options;
  const https = tls && {
    cert: tls.cert,
    key: tls.key,
    // Ask for a client certificate, but let the handshake finish without one: see client-cert.ts.
    ...(tls.clientCa ? { ca: tls.clientCa, requestCert: true, rejectUnauthorized: false } : {}),
  };
  // Fastify's types tie the instance to http or https; the routes and hooks are the same for both.
  const app = Fastify({
    ...(https ? { https } : {}),
    loggerInstance: options.log.child({ component: 'http' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.maxBodyBytes,
    // Keep-alive for senders that batch: the peer load harness uses one pool of connections.
    keepAliveTimeout: 65_000,
    return503OnClosing: true,
    // A URL the router cannot decode (`/webhooks/%ff`) gets the hub's error shape like any other 4xx.
    frameworkErrors: (error, _request, reply) =>
      sendError(reply, new HubError('TH_ERR_BAD_REQUEST', error.message)),
  });
  app.setErrorHandler((error, request, reply) => {
    const hubError = toHubError(error as Error, request.headers['content-type']);
    if (hubError.status >= 500) request.log.warn({ err: error }, 'request failed');
    return sendError(reply, hubError);
  });

  if (tls?.clientCa) app.addHook('onRequest', requireClientCertificate());

  // Unknown routes answer in the hub's error shape too, so every 4xx carries a code.
  app.setNotFoundHandler((request, reply) =>
    sendError(
      reply,
      request.url.startsWith('/webhooks')
        ? new HubError('TH_ERR_UNKNOWN_TRIGGER', `no trigger listens on ${request.url.split('?')[0]}`)
        : new HubError('TH_ERR_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`),
    ),
  );

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
  app.register(apiPlugin(options.engine, options.instrumentation, options.apiToken, options.backfills));
  app.register(webhookPlugin(options.webhooks, options.maxBodyBytes, () => !options.engine.applied));
  app.register(dashboardPlugin(options));
  return app;
}
