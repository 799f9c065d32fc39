// mTLS for the API and the dashboard. The TLS handshake asks every client for a certificate but lets one
// without (or with another CA's) through, because Kubernetes probes, Prometheus and webhook senders hold
// none; this hook then refuses /api and /dashboard to any client whose certificate the CA did not sign.

import type { TLSSocket } from 'node:tls';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HubError } from '../errors.ts';
import { sendError } from './errors.ts';

export function isProtectedPath(url: string): boolean {
  const path = url.split('?')[0]!;
  return path.startsWith('/api/') || path === '/dashboard' || path.startsWith('/dashboard/');
}

export function requireClientCertificate() {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (!isProtectedPath(request.url)) return;
    const socket = request.raw.socket as TLSSocket;
    if (socket.authorized) return;
    const why = socket.authorizationError ? ` (${String(socket.authorizationError)})` : '';
    return sendError(
      reply,
      new HubError(
        'TH_ERR_UNAUTHORIZED',
        `this route needs a client certificate signed by the hub's client CA${why}`,
      ),
    );
  };
}
