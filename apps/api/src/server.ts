import { migrationsApplied, sql } from '@settle/db';
import { fastifyTRPCPlugin, type FastifyTRPCPluginOptions } from '@trpc/server/adapters/fastify';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { AppDeps } from './app-deps.js';
import { isAdminToken, verifyAdminToken } from './lib/admin-auth.js';
import { verifyUserToken } from './lib/user-auth.js';
import { appRouter, type AppRouter } from './trpc/root.js';
import type { Context } from './trpc/trpc.js';
import { stripeWebhookRoute } from './webhook/stripe-webhook.route.js';

export type ServerOptions = {
  /** Called once an event is durably stored: start processing it. */
  afterStore: (eventId: string) => void;
  /** False once shutdown began: readiness fails so load balancers stop sending. */
  isAccepting: () => boolean;
};

/** The HTTP surface of the contract: webhook, tRPC, health, readiness and metrics. */
export async function buildServer(deps: AppDeps, opts: ServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    // Per-request access logs would double the webhook's cost; outcomes are logged and counted instead.
    logController: new LogController({ disableRequestLogging: true }),
    routerOptions: { maxParamLength: 5000 },
    bodyLimit: 1024 * 1024,
    forceCloseConnections: true,
  });

  await app.register(async (scope) =>
    stripeWebhookRoute(scope, {
      db: deps.database.db,
      secrets: deps.env.STRIPE_WEBHOOK_SECRET ?? [],
      toleranceSeconds: deps.env.STRIPE_WEBHOOK_TOLERANCE_S,
      metrics: deps.metrics,
      afterStore: opts.afterStore,
    }),
  );

  await app.register(fastifyTRPCPlugin, {
    prefix: '/trpc',
    trpcOptions: {
      router: appRouter,
      createContext: async ({ req }): Promise<Context> => {
        const authorization = req.headers.authorization;
        if (isAdminToken(authorization)) return { deps, user: null, admin: await verifyAdminToken(deps.database.db, authorization) };
        return { deps, user: await verifyUserToken(authorization, deps.jwtSecret), admin: null };
      },
      onError({ error, path }) {
        if (error.code === 'INTERNAL_SERVER_ERROR') deps.logger.error({ path, err: error.message }, 'tRPC procedure failed');
      },
    } satisfies FastifyTRPCPluginOptions<AppRouter>['trpcOptions'],
  });

  app.get('/healthz', async () => ({ ok: true }));
  app.get('/readyz', async (_req, reply) => {
    if (!opts.isAccepting()) return reply.code(503).send({ ok: false, reason: 'shutting down' });
    try {
      await sql`select 1`.execute(deps.database.db);
      if (!(await migrationsApplied(deps.database.db))) return reply.code(503).send({ ok: false, reason: 'migrations pending' });
      return { ok: true, database: deps.database.kind };
    } catch {
      return reply.code(503).send({ ok: false, reason: 'database unreachable' });
    }
  });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });
  return app;
}
