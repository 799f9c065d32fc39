// The dashboard is protected by the API's bearer token (TH_API_TOKEN). Scripts send it as
// "Authorization: Bearer"; a browser signs in once on /dashboard/login and then carries a cookie holding a
// hash of the token (never the token itself), HttpOnly and SameSite=Strict. State-changing requests also
// need the x-trigger-hub header, which a cross-site form cannot send without a CORS preflight.

import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HubError } from '../../errors.ts';
import { bearerToken, safeEqual } from '../../security/compare.ts';
import { sendError } from '../errors.ts';

export const cookieName = 'th_dashboard';
export const csrfHeader = 'x-trigger-hub';

export function sessionValue(apiToken: string): string {
  return createHash('sha256').update(`trigger-hub dashboard session\0${apiToken}`).digest('hex');
}

export function cookieOf(request: FastifyRequest, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return decodeURIComponent(value.join('='));
  }
  return undefined;
}

export function sessionCookie(apiToken: string, secure: boolean): string {
  return `${cookieName}=${sessionValue(apiToken)}; Path=/dashboard; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

export const clearedCookie = `${cookieName}=; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age=0`;

export function isAuthorized(request: FastifyRequest, apiToken: string): boolean {
  const token = bearerToken(request.headers.authorization);
  if (token !== undefined) return safeEqual(token, apiToken);
  const session = cookieOf(request, cookieName);
  return session !== undefined && safeEqual(session, sessionValue(apiToken));
}

/** onRequest hook: pages redirect to the login form, data routes answer 401 {code, message}. */
export function requireAuth(apiToken: string | undefined) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split('?')[0]!;
    if (path === '/dashboard/login') return;
    if (apiToken !== undefined && !isAuthorized(request, apiToken)) {
      const wantsPage = request.method === 'GET' && (request.headers.accept ?? '').includes('text/html');
      if (wantsPage) return reply.redirect('/dashboard/login', 303);
      return sendError(
        reply,
        new HubError(
          'TH_ERR_UNAUTHORIZED',
          'the dashboard needs "Authorization: Bearer <TH_API_TOKEN>" or a sign-in',
        ),
      );
    }
    // bull-board's own UI cannot add the header; for it the SameSite=Strict cookie is the guard.
    const ownApi = path.startsWith('/dashboard/api/');
    if (ownApi && request.method !== 'GET' && request.headers[csrfHeader] === undefined)
      return sendError(
        reply,
        new HubError('TH_ERR_BAD_REQUEST', `send the ${csrfHeader} header with changes`),
      );
  };
}
