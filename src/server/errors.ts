import type { FastifyError, FastifyReply } from 'fastify';
import { HubError } from '../errors.ts';

/** Every error answer has the same shape: `{ "code": "TH_ERR_…", "message": "…" }`. */
export function sendError(reply: FastifyReply, error: HubError): FastifyReply {
  return reply.code(error.status).send(error.toJSON());
}

/** Maps Fastify's own errors (body too large, bad content) onto the hub's codes. */
export function toHubError(error: FastifyError | Error, contentType?: string): HubError {
  if (error instanceof HubError) return error;
  const fastifyError = error as FastifyError;
  if (fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
    return new HubError('TH_ERR_PAYLOAD_TOO_LARGE', error.message);
  // Fastify refuses a body whose content-type is not a type/subtype media type; say which header and why.
  if (fastifyError.statusCode === 415)
    return new HubError(
      'TH_ERR_UNSUPPORTED_MEDIA',
      contentType === undefined
        ? `${error.message}: the body has no content-type`
        : `the content-type ${JSON.stringify(contentType)} is not a media type (type/subtype)`,
    );
  if (fastifyError.statusCode !== undefined && fastifyError.statusCode < 500)
    return new HubError('TH_ERR_BAD_REQUEST', error.message);
  return new HubError('TH_ERR_INTERNAL', 'internal error; nothing was accepted', { cause: error });
}
