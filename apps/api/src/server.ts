import fastifyCookie from '@fastify/cookie';
import { createInboxWriter, migrationsApplied, pingDatabase } from '@settle/db';
import { fastifyTRPCPlugin, type FastifyTRPCPluginOptions } from '@trpc/server/adapters/fastify';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { AppDeps } from './app-deps.js';
import { adminConsoleRoute, consoleDir } from './console/admin-console.route.js';
import { clientFeaturesRoute } from './flags/client-features.route.js';
import { isAdminToken, verifyAdminToken } from './lib/admin-auth.js';
import { allowedOrigins, createLoginRateLimiter, httpExchange, verifyAdminSession } from './lib/admin-session.js';
import { verifyUserToken } from './lib/user-auth.js';
import { appRouter, type AppRouter } from './trpc/root.js';
import type { Context } from './trpc/trpc.js';
import { stripeWebhookRoute } from './webhook/stripe-webhook.route.js';

export type ServerOptions = {
  /** Called once an event is durably stored: start processing it. */
  afterStore: (eventId: string) => void;
  /** Webhook requests in flight (processing gives way to them). */
  webhooks?: { enter(): void; leave(): void };
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
      inbox: createInboxWriter(deps.database.db, {
        maxConcurrentBatches: deps.database.kind === 'pglite' ? 1 : deps.env.WEBHOOK_INSERT_CONCURRENCY,
        pool: deps.database.pool,
      }),
      secrets: deps.env.STRIPE_WEBHOOK_SECRET ?? [],
      toleranceSeconds: deps.env.STRIPE_WEBHOOK_TOLERANCE_S,
      metrics: deps.metrics,
      afterStore: opts.afterStore,
      ...(opts.webhooks ? { inFlight: opts.webhooks } : {}),
    }),
  );

  await app.register(fastifyCookie);
  const session = { env: deps.env, origins: allowedOrigins(deps.env), loginLimiter: createLoginRateLimiter() };

  await app.register(fastifyTRPCPlugin, {
    prefix: '/trpc',
    trpcOptions: {
      router: appRouter,
      createContext: async ({ req, res, info }): Promise<Context> => {
        const http = httpExchange(req, res, session);
        // SSE (EventSource) cannot send headers: subscriptions pass the token in connectionParams.
        const paramToken = info.connectionParams?.token;
        const authorization = req.headers.authorization ?? (typeof paramToken === 'string' ? `Bearer ${paramToken}` : undefined);
        if (isAdminToken(authorization)) return { deps, user: null, admin: await verifyAdminToken(deps.database.db, authorization), http };
        const admin = http.sessionId ? await verifyAdminSession(deps.database.db, http.sessionId) : null;
        return { deps, user: await verifyUserToken(authorization, deps.jwtSecret), admin, http };
      },
      onError({ error, path }) {
        if (error.code === 'INTERNAL_SERVER_ERROR') deps.logger.error({ path, err: error.message }, 'tRPC procedure failed');
      },
    } satisfies FastifyTRPCPluginOptions<AppRouter>['trpcOptions'],
  });

  const dir = consoleDir(deps.env.ADMIN_CONSOLE_DIR);
  if (dir) await adminConsoleRoute(app, { dir });
  else deps.logger.info('admin console not built: /admin/ is not served (build apps/admin, or use its Vite dev server)');

  if (deps.flags.source === 'settle') {
    await app.register(async (scope) =>
      clientFeaturesRoute(scope, { db: deps.database.db, token: deps.env.UNLEASH_API_TOKEN ?? null, environment: deps.env.UNLEASH_ENVIRONMENT }),
    );
  }
  app.get('/healthz', async () => ({ ok: true }));
  app.get('/readyz', async (_req, reply) => {
    if (!opts.isAccepting()) return reply.code(503).send({ ok: false, reason: 'shutting down' });
    try {
      await pingDatabase(deps.database.db);
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
