// The dashboard, one Fastify plugin: the triggers page (/dashboard) with its script and stylesheet
// (/dashboard/assets/*, from browser/) and data routes (/dashboard/api/*), and bull-board's queue view over
// every running trigger's queue (/dashboard/queues).
// Everything under /dashboard is protected by the API's token (auth.ts).

import type { FastifyInstance } from 'fastify';
import type { BackfillManager } from '../../backfill/manager.ts';
import type { Engine } from '../../engine/engine.ts';
import { HubError } from '../../errors.ts';
import type { Instrumentation } from '../../instrumentation.ts';
import { safeEqual } from '../../security/compare.ts';
import { pageOf } from '../pagination.ts';
import { dashboardAssets } from './assets.ts';
import { clearedCookie, requireAuth, sessionCookie } from './auth.ts';
import type { ReplayResponse, TriggerDetail, TriggersResponse } from './browser/api.ts';
import { listTriggers, replay, triggerDetails } from './data.ts';
import { LiveStats } from './live-stats.ts';

export interface DashboardOptions {
  engine: Engine;
  instrumentation: Instrumentation;
  backfills: BackfillManager;
  apiToken: string | undefined;
}

interface TriggerParams {
  namespace: string;
  name: string;
}

const queuesPath = '/dashboard/queues';

export function dashboardPlugin(options: DashboardOptions) {
  const { engine, instrumentation, backfills, apiToken } = options;
  return async function dashboard(app: FastifyInstance): Promise<void> {
    const { script, style, triggersPage, loginPage } = dashboardAssets();
    const stats = new LiveStats(instrumentation);
    app.addHook('onClose', async () => stats.close());
    app.addHook('onRequest', requireAuth(apiToken));
    app.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: 4096 },
      (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
    );

    app.get('/dashboard/login', async (_request, reply) => {
      if (apiToken === undefined) return reply.redirect('/dashboard', 303);
      return reply.type('text/html; charset=utf-8').send(loginPage(false));
    });
    app.post<{ Body: { token?: string } }>('/dashboard/login', async (request, reply) => {
      if (apiToken === undefined) return reply.redirect('/dashboard', 303);
      const token = typeof request.body?.token === 'string' ? request.body.token : '';
      if (!safeEqual(token, apiToken))
        return reply.code(401).type('text/html; charset=utf-8').send(loginPage(true));
      const secure = request.protocol === 'https';
      return reply.header('set-cookie', sessionCookie(apiToken, secure)).redirect('/dashboard', 303);
    });
    app.post('/dashboard/logout', async (_request, reply) =>
      reply.header('set-cookie', clearedCookie).redirect('/dashboard/login', 303),
    );

    app.get('/dashboard', async (_request, reply) =>
      reply
        .type('text/html; charset=utf-8')
        .header('cache-control', 'no-store')
        .send(triggersPage({ signOut: apiToken !== undefined })),
    );
    app.get('/dashboard/', async (_request, reply) => reply.redirect('/dashboard', 301));
    app.get('/dashboard/assets/dashboard.js', async (_request, reply) =>
      reply.type('application/javascript; charset=utf-8').header('cache-control', 'no-store').send(script),
    );
    app.get('/dashboard/assets/dashboard.css', async (_request, reply) =>
      reply.type('text/css; charset=utf-8').header('cache-control', 'no-store').send(style),
    );

    // Typed with what the page reads (browser/api.ts), so a shape the page relies on cannot drift away.
    app.get(
      '/dashboard/api/triggers',
      async (): Promise<TriggersResponse> => ({ triggers: await listTriggers(engine, stats) }),
    );
    app.get<{ Params: TriggerParams; Querystring: { offset?: string; limit?: string } }>(
      '/dashboard/api/triggers/:namespace/:name',
      async (request): Promise<TriggerDetail> =>
        triggerDetails(
          engine,
          stats,
          backfills,
          `${request.params.namespace}/${request.params.name}`,
          pageOf(request.query, { limit: 50, maxLimit: 1000 }),
        ),
    );
    // Live dead letters, and (…/backfill/replay) what backfills dead-lettered, moved into the live queue.
    for (const backfill of [false, true])
      app.post<{ Params: TriggerParams; Body: { jobIds?: unknown } | undefined }>(
        `/dashboard/api/dlq/:namespace/:name${backfill ? '/backfill' : ''}/replay`,
        async (request): Promise<ReplayResponse> => {
          const jobIds = request.body?.jobIds;
          if (
            jobIds !== undefined &&
            !(Array.isArray(jobIds) && jobIds.every((id) => typeof id === 'string'))
          )
            throw new HubError('TH_ERR_BAD_REQUEST', 'jobIds must be an array of strings');
          const key = `${request.params.namespace}/${request.params.name}`;
          const ids = jobIds as string[] | undefined;
          return {
            replayed: await replay(engine, instrumentation, key, ids, backfill ? backfills : undefined),
          };
        },
      );

    // bull-board is loaded only when a server is built, so CLI commands that never serve do not pay for it.
    const [{ createBullBoard }, { BullMQAdapter }, { FastifyAdapter }] = await Promise.all([
      import('@bull-board/api'),
      import('@bull-board/api/bullMQAdapter'),
      import('@bull-board/fastify'),
    ]);
    // bull-board: its adapters are rebuilt from the running triggers on each visit, since triggers come
    // and go with file edits and resource changes.
    const serverAdapter = new FastifyAdapter();
    serverAdapter.setBasePath(queuesPath);
    const board = createBullBoard({
      queues: [],
      // @bull-board/fastify 9.10.1 pins its own copy of @bull-board/api's types; the shapes are the same.
      serverAdapter: serverAdapter as unknown as Parameters<typeof createBullBoard>[0]['serverAdapter'],
      options: { uiConfig: { boardTitle: 'Trigger Hub queues' } },
    });
    const syncQueues = () =>
      board.replaceQueues(
        engine
          .list()
          .filter((state) => state.running)
          .map(
            (state) =>
              new BullMQAdapter(state.running!.queue.queue, {
                displayName: state.key,
                description: state.origin,
              }),
          ),
      );
    await app.register(async (queues) => {
      queues.addHook('onRequest', async () => syncQueues());
      await queues.register(serverAdapter.registerPlugin(), { prefix: queuesPath });
    });
  };
}
