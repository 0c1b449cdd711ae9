import fastifyCookie from '@fastify/cookie';
import { createInboxWriter, migrationsApplied, pingDatabase } from '@settle/db';
import { fastifyTRPCPlugin, type FastifyTRPCPluginOptions } from '@trpc/server/adapters/fastify';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { AggregatorRegistry } from 'prom-client';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { AppDeps } from './app-deps.js';
import { adminConsoleRoute, consoleDir } from './console/admin-console.route.js';
import { clientFeaturesRoute } from './flags/client-features.route.js';
import { isAdminToken, verifyAdminToken } from './lib/admin-auth.js';
import { allowedOrigins, verifyAdminSession } from './lib/admin-session.js';
import { createRateLimits } from './lib/rate-limits.js';
import { verifyUserToken } from './lib/user-auth.js';
import { toPublicError } from './trpc/error-boundary.js';
import { httpExchange } from './trpc/http-exchange.js';
import type { ProgressWatch } from './lib/progress.js';
import { settledWithin } from './lib/within.js';
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
  /** Background work in flight, for readiness (a unit running past READINESS_STALL_MS fails it). */
  progress?: ProgressWatch;
};

/** TRUST_PROXY as Fastify's `trustProxy`: true, a hop count, or addresses/CIDRs; unset or false: none. */
export function trustProxy(value: string | undefined): boolean | string[] | ((address: string, hop: number) => boolean) {
  const v = value?.trim().toLowerCase();
  if (!v || v === 'false') return false;
  if (v === 'true') return true;
  if (/^\d+$/.test(v)) {
    // The nth hop from the front-facing proxy is the client (what Fastify does with a number).
    const hops = Number(v);
    return (_address, hop) => hop < hops;
  }
  return v.split(',').map((x) => x.trim()).filter(Boolean);
}

const liveStreams = new WeakMap<FastifyInstance, Set<Socket>>();

/**
 * Stop serving: new requests are refused (503, readiness already fails), live streams are closed
 * at once (an EventSource reconnects, through the load balancer, to another instance), and the
 * requests in flight (a webhook being stored, a refund being made) are let finish within
 * `deadlineMs`; connections still busy then are closed.
 */
export async function closeServer(app: FastifyInstance, deadlineMs: number): Promise<void> {
  for (const socket of liveStreams.get(app) ?? []) socket.destroy();
  const closed = app.close();
  // A keep-alive connection whose request finishes is idle from then on: closed as soon as it is.
  const idle = setInterval(() => app.server.closeIdleConnections(), 50);
  const inTime = await settledWithin(closed, deadlineMs).finally(() => clearInterval(idle));
  if (inTime) return closed;
  app.log.warn({ deadlineMs }, 'requests still in flight at the shutdown deadline: their connections are closed');
  app.server.closeAllConnections();
  return closed;
}

/** The HTTP surface of the contract: webhook, tRPC, health, readiness and metrics. */
export async function buildServer(deps: AppDeps, opts: ServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    // Per-request access logs would double the webhook's cost; outcomes are logged and counted instead.
    logController: new LogController({ disableRequestLogging: true }),
    routerOptions: { maxParamLength: 5000 },
    bodyLimit: 1024 * 1024,
    // On close, idle keep-alive connections are closed and requests in flight finish (an
    // acknowledgement cut off after its commit would make Stripe deliver it again); `closeServer`
    // ends live streams at once and cuts what is left at the shutdown deadline.
    forceCloseConnections: 'idle',
    // Which proxy headers name the client (rate limits, sign-in throttling, audit): see TRUST_PROXY.
    trustProxy: trustProxy(deps.env.TRUST_PROXY),
  });

  const inbox = createInboxWriter(deps.database.db, {
    maxConcurrentBatches: deps.database.kind === 'pglite' ? 1 : deps.env.WEBHOOK_INSERT_CONCURRENCY,
    // Its own connections when it has them: deliveries are stored whatever holds the main pool.
    pool: deps.database.ingestPool ?? deps.database.pool,
    maxQueued: deps.env.WEBHOOK_QUEUE_MAX,
    deadlineMs: deps.env.WEBHOOK_STORE_DEADLINE_MS,
    onRepaired: (eventId) => deps.logger.warn({ eventId }, 'Stripe event stored with characters PostgreSQL cannot hold replaced (U+FFFD)'),
  });
  await app.register(async (scope) =>
    stripeWebhookRoute(scope, {
      inbox,
      secrets: deps.env.STRIPE_WEBHOOK_SECRET ?? [],
      toleranceSeconds: deps.env.STRIPE_WEBHOOK_TOLERANCE_S,
      metrics: deps.metrics,
      afterStore: opts.afterStore,
      ...(opts.webhooks ? { inFlight: opts.webhooks } : {}),
    }),
  );

  const limits = createRateLimits(deps.env, deps.database.pool);
  const session = { publicUrl: deps.env.PUBLIC_URL, production: deps.env.NODE_ENV === 'production', origins: allowedOrigins(deps.env), loginThrottle: limits.login };
  const jwt = { secret: deps.jwtSecret, audience: deps.env.USER_JWT_AUDIENCE, issuer: deps.env.USER_JWT_ISSUER };

  // Cookies (the console's session) belong to tRPC alone: registered at the root, their onSend
  // hook would run on every webhook acknowledgement too.
  await app.register(async (scope) => {
    // Live streams (SSE subscriptions) never finish on their own: shutdown ends them first.
    const streams = new Set<Socket>();
    liveStreams.set(app, streams);
    scope.addHook('onRequest', async (req, reply) => {
      if (!req.headers.accept?.includes('text/event-stream')) return;
      const socket = req.raw.socket;
      streams.add(socket);
      reply.raw.once('close', () => streams.delete(socket));
    });
    await scope.register(fastifyCookie);
    await scope.register(fastifyTRPCPlugin, {
      prefix: '/trpc',
      trpcOptions: {
        router: appRouter,
        maxBatchSize: deps.env.TRPC_MAX_BATCH,
        createContext: async ({ req, res, info }): Promise<Context> => {
          const http = httpExchange(req, res, session);
          // SSE (EventSource) cannot send headers: subscriptions, and only they, may pass the token in
          // connectionParams (elsewhere it would end up in URLs and logs).
          const paramToken = info.type === 'subscription' ? info.connectionParams?.token : undefined;
          const authorization = req.headers.authorization ?? (typeof paramToken === 'string' ? `Bearer ${paramToken}` : undefined);
          try {
            if (isAdminToken(authorization)) return { deps, user: null, admin: await verifyAdminToken(deps.database.db, authorization), http, limits };
            const admin = http.sessionId ? await verifyAdminSession(deps.database.db, http.sessionId) : null;
            return { deps, user: await verifyUserToken(authorization, jwt), admin, http, limits };
          } catch (err) {
            // Looking up a session or token failed (the database is away): the same boundary as procedures.
            throw toPublicError(err, deps.logger, {});
          }
        },
        onError({ error, path }) {
          // Procedure errors were logged by the boundary with their reference; this catches the rest.
          if (error.code === 'INTERNAL_SERVER_ERROR' && error.cause) deps.logger.error({ path, err: error.cause.message }, 'tRPC request failed');
        },
      } satisfies FastifyTRPCPluginOptions<AppRouter>['trpcOptions'],
    });
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
    // Checkouts wait for it meanwhile; a load balancer should not send them yet.
    if (deps.flags.startingUp()) return reply.code(503).send({ ok: false, reason: 'handler flag loading' });
    const stallMs = deps.env.READINESS_STALL_MS;
    if (inbox.stalledForMs() > stallMs) return reply.code(503).send({ ok: false, reason: 'webhook inserts are stalled' });
    const wedged = opts.progress?.oldest();
    if (wedged && wedged.ageMs > stallMs) return reply.code(503).send({ ok: false, reason: `${wedged.name} running for ${Math.round(wedged.ageMs / 1000)} s` });
    const processing = deps.processingProcesses?.problem(stallMs);
    if (processing) return reply.code(503).send({ ok: false, reason: processing });
    try {
      const probe = (async () => {
        await pingDatabase(deps.database.db);
        return migrationsApplied(deps.database.db);
      })();
      probe.catch(() => {}); // answered by the race below, or too late to matter
      // A database that stops answering must fail readiness promptly, not hang the probe.
      const applied = await Promise.race([probe, sleep(Math.min(2_000, stallMs)).then(() => Promise.reject(new Error('timeout')))]);
      if (!applied) return reply.code(503).send({ ok: false, reason: 'migrations pending' });
      return { ok: true, database: deps.database.kind };
    } catch {
      return reply.code(503).send({ ok: false, reason: 'database unreachable' });
    }
  });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', deps.metrics.registry.contentType);
    if (!deps.processingProcesses) return deps.metrics.registry.metrics();
    // Processing runs in other processes: one scrape shows them and this one as one instance.
    const [own, others] = await Promise.all([deps.metrics.registry.getMetricsAsJSON(), deps.processingProcesses.metrics()]);
    return AggregatorRegistry.aggregate([own, ...others]).metrics();
  });
  return app;
}
