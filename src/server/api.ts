// The HTTP API: triggers, their dead-letter queues and their backfills. Protected by a bearer token when one is configured.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseBackfillRequest } from '../backfill/backfill.ts';
import type { BackfillManager } from '../backfill/manager.ts';
import { isCelValid } from '../cel.ts';
import type { Engine } from '../engine/engine.ts';
import { HubError } from '../errors.ts';
import type { Instrumentation } from '../instrumentation.ts';
import { deadLetterPage, type ReplayRequest, replayDeadLetters } from '../queue/dead-letter.ts';
import { bearerToken, safeEqual } from '../security/compare.ts';
import { sendError } from './errors.ts';
import { pageOf } from './pagination.ts';
import { listingOf, queueCountsOf } from './trigger-state.ts';

interface TriggerParams {
  namespace: string;
  name: string;
}

export function apiPlugin(
  engine: Engine,
  instrumentation: Instrumentation,
  apiToken: string | undefined,
  backfills: BackfillManager,
) {
  return async function api(app: FastifyInstance): Promise<void> {
    if (apiToken !== undefined) {
      app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
        const token = bearerToken(request.headers.authorization);
        if (token === undefined || !safeEqual(token, apiToken))
          return sendError(
            reply,
            new HubError('TH_ERR_UNAUTHORIZED', 'the API needs "Authorization: Bearer <TH_API_TOKEN>"'),
          );
      });
    }

    const runningQueue = (params: TriggerParams) => {
      const state = engine.get(`${params.namespace}/${params.name}`);
      if (!state?.running)
        throw new HubError(
          'TH_ERR_UNKNOWN_TRIGGER',
          `trigger ${params.namespace}/${params.name} is not running here`,
        );
      return { state, queue: state.running.queue.queue };
    };

    const keyOf = (params: TriggerParams) => `${params.namespace}/${params.name}`;

    app.get('/api/triggers', async () => ({
      triggers: await Promise.all(
        engine.list().map(async (state) => {
          const counts = await queueCountsOf(state);
          return { ...listingOf(state), ...(counts ? { queue: counts } : {}) };
        }),
      ),
    }));

    app.get<{ Params: TriggerParams; Querystring: { offset?: string; limit?: string } }>(
      '/api/dlq/:namespace/:name',
      async (request) => {
        const { queue } = runningQueue(request.params);
        return deadLetterPage(queue, pageOf(request.query, dlqPage));
      },
    );

    app.post<{ Params: TriggerParams; Body: { jobIds?: string[]; where?: string } | undefined }>(
      '/api/dlq/:namespace/:name/replay',
      async (request) => {
        const { state, queue } = runningQueue(request.params);
        const replayed = await replayDeadLetters(queue, parseReplay(request.body));
        instrumentation.emit('dlq.replayed', state.key, replayed);
        return { replayed };
      },
    );

    // What backfills dead-lettered: kept apart from the live dead letters, replayed into the live queue.
    app.get<{ Params: TriggerParams; Querystring: { offset?: string; limit?: string } }>(
      '/api/dlq/:namespace/:name/backfill',
      async (request) => backfills.deadLetters(keyOf(request.params), pageOf(request.query, dlqPage)),
    );

    app.post<{ Params: TriggerParams; Body: { jobIds?: string[]; where?: string } | undefined }>(
      '/api/dlq/:namespace/:name/backfill/replay',
      async (request) => {
        const key = keyOf(request.params);
        const replayed = await backfills.replayDeadLetters(key, parseReplay(request.body));
        instrumentation.emit('dlq.replayed', key, replayed);
        return { replayed };
      },
    );

    app.post<{ Params: TriggerParams; Body: unknown }>(
      '/api/triggers/:namespace/:name/backfills',
      async (request, reply) => {
        const backfill = await backfills.create(
          keyOf(request.params),
          parseBackfillRequest(parseJson(request.body)),
        );
        return reply.code(201).send({ backfill });
      },
    );

    app.get<{ Params: TriggerParams }>('/api/triggers/:namespace/:name/backfills', async (request) => ({
      backfills: await backfills.list(keyOf(request.params)),
    }));

    app.get<{ Params: TriggerParams & { id: string } }>(
      '/api/triggers/:namespace/:name/backfills/:id',
      async (request) => ({ backfill: await backfills.get(keyOf(request.params), request.params.id) }),
    );

    app.delete<{ Params: TriggerParams & { id: string } }>(
      '/api/triggers/:namespace/:name/backfills/:id',
      async (request) => ({ backfill: await backfills.cancel(keyOf(request.params), request.params.id) }),
    );
  };
}

/** The body as JSON, whatever content type parsed it (`{}` when empty). */
function parseJson(body: unknown): unknown {
  const raw = Buffer.isBuffer(body) ? body.toString('utf8') : typeof body === 'string' ? body : undefined;
  if (raw === undefined) return body ?? {};
  try {
    return raw.trim() === '' ? {} : JSON.parse(raw);
  } catch (error) {
    throw new HubError('TH_ERR_BAD_REQUEST', `body is not valid JSON: ${(error as Error).message}`);
  }
}

const dlqPage = { limit: 100, maxLimit: 1000 };

/** A replay request's body, its `where` checked as CEL before anything moves. */
function parseReplay(body: unknown): ReplayRequest {
  const value = parseJson(body);
  const { jobIds, where } = value as { jobIds?: unknown; where?: unknown };
  if (jobIds !== undefined && !(Array.isArray(jobIds) && jobIds.every((id) => typeof id === 'string')))
    throw new HubError('TH_ERR_BAD_REQUEST', 'jobIds must be an array of strings');
  if (where !== undefined && typeof where !== 'string')
    throw new HubError('TH_ERR_BAD_REQUEST', 'where must be a string');
  if (where !== undefined) {
    const error = isCelValid(where);
    if (error) throw new HubError('TH_ERR_BAD_REQUEST', `where: invalid CEL expression: ${error}`);
  }
  return { ...(jobIds ? { jobIds: jobIds as string[] } : {}), ...(where ? { where } : {}) };
}
