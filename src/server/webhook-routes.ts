// Push sources (webhook, MinIO) register their paths here at run time; one wildcard Fastify route looks
// them up, so triggers can come and go without restarting the HTTP server.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HubError } from '../errors.ts';
import type { WebhookHandler, WebhookRoutes } from '../sensor/sensor.ts';
import { sendError } from './errors.ts';

interface Route {
  handler: WebhookHandler;
  bodyLimitBytes: number;
}

export class WebhookRouteTable implements WebhookRoutes {
  private readonly routes = new Map<string, Route>();

  register(path: string, handler: WebhookHandler, options: { bodyLimitBytes: number }): () => void {
    const key = path.replace(/^\/+|\/+$/g, '');
    if (this.routes.has(key))
      throw new HubError('TH_ERR_INVALID_TRIGGER', `webhook path /webhooks/${key} is already taken`);
    const route = { handler, bodyLimitBytes: options.bodyLimitBytes };
    this.routes.set(key, route);
    return () => {
      if (this.routes.get(key) === route) this.routes.delete(key);
    };
  }

  /** The longest registered path that is a prefix of `path`, segment-wise. */
  match(path: string): { route: Route; subpath: string } | undefined {
    const segments = path.replace(/^\/+|\/+$/g, '').split('/');
    for (let length = segments.length; length > 0; length--) {
      const route = this.routes.get(segments.slice(0, length).join('/'));
      if (route) return { route, subpath: segments.slice(length).join('/') };
    }
    return undefined;
  }
}

function decodePath(url: string): string {
  const path = url.split('?')[0]!.replace(/^\/webhooks\/?/, '');
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

/** `starting()`: the hub serves but has not applied its Triggers yet. */
export function webhookPlugin(
  table: WebhookRouteTable,
  maxBodyBytes: number,
  starting: () => boolean = () => false,
) {
  return async function webhooks(app: FastifyInstance): Promise<void> {
    // Bodies stay raw bytes: signatures are computed over them and each sensor decides how to parse.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: maxBodyBytes }, (_request, body, done) =>
      done(null, body),
    );

    // Refuse an over-long body from its Content-Length before reading it.
    app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
      const matched = table.match(decodePath(request.url));
      const length = Number(request.headers['content-length'] ?? 0);
      if (matched && length > matched.route.bodyLimitBytes) {
        return sendError(reply, tooLarge(matched.route.bodyLimitBytes));
      }
    });

    app.all('/webhooks/*', { bodyLimit: maxBodyBytes }, async (request, reply) => {
      const matched = table.match(decodePath(request.url));
      // A hub that just (re)started serves before its Triggers are loaded: a 404 then would make a sender
      // drop the event (the fault suite's restarted hubs answered 404 to live traffic); 503 makes it retry.
      if (!matched && starting())
        return sendError(
          reply.header('retry-after', '1'),
          new HubError(
            'TH_ERR_STARTING',
            `the hub is loading its Triggers; retry ${request.url.split('?')[0]}`,
          ),
        );
      if (!matched)
        return sendError(
          reply,
          new HubError('TH_ERR_UNKNOWN_TRIGGER', `no trigger listens on ${request.url.split('?')[0]}`),
        );
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      if (body.length > matched.route.bodyLimitBytes)
        return sendError(reply, tooLarge(matched.route.bodyLimitBytes));
      const response = await matched.route.handler({
        method: request.method,
        subpath: matched.subpath,
        headers: request.headers,
        query: request.query as Record<string, string>,
        body,
      });
      reply.code(response.status);
      if (response.headers) reply.headers(response.headers);
      return reply.send(response.body ?? '');
    });
  };
}

function tooLarge(limit: number): HubError {
  return new HubError('TH_ERR_PAYLOAD_TOO_LARGE', `the body exceeds this trigger's limit of ${limit} bytes`);
}
