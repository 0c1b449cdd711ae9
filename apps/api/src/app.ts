import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { countEventsInOtherApiVersions, countOrdersMissingInvoice, countSubscriptionsNeedingReview, createDatabase, hostOutboxHealth, inboxHealth, migrateDatabase, type DatabaseHandle } from '@settle/db';
import { DEFAULT_RETRY_POLICY, type StripeEventLike } from '@settle/payments-core';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type Stripe from 'stripe';
import type { AppDeps } from './app-deps.js';
import type { Env } from './env.js';
import { createHandlerFlag } from './flags/handler-flag.js';
import { bootstrapFirstAdmin } from './lib/admin-session.js';
import { createLogger } from './lib/logger.js';
import { errorMessage } from './lib/errors.js';
import { createProgressWatch, type ProgressWatch } from './lib/progress.js';
import { settledWithin } from './lib/within.js';
import { createMetrics } from './lib/metrics.js';
import { createStripeClient, pinnedApiVersion } from './lib/stripe-client.js';
import { createReconciler } from './payments/reconciler.js';
import { createEventRecovery } from './payments/event-recovery.service.js';
import { createOrderChangeBus } from './lib/order-change-bus.js';
import { loadCatalogue } from './payments/product-catalogue.js';
import { buildServer, closeServer } from './server.js';
import { startEventWorker, type EventWorker } from './workers/event-worker.js';
import { startHostWebhookSender } from './host-webhooks/host-webhook-sender.js';
import { startOutboxRetention } from './host-webhooks/outbox-retention.js';
import { createCreditSpender } from './entitlements/credit-spending.service.js';
import { createInboxProcessor } from './workers/inbox-processor.js';
import type { ProcessingProcesses } from './workers/processing-processes.js';

export type Settle = {
  app: FastifyInstance;
  deps: AppDeps;
  worker: EventWorker;
  /** Whether background work is moving (readiness; a processing process reports it to its API). */
  progress: ProgressWatch;
  /** Listen on env HOST/PORT (PORT 0 picks a free port); returns the base URL. */
  listen(): Promise<string>;
  /** Graceful shutdown: refuse new work, finish in-flight work within the deadline, release leases. */
  close(): Promise<void>;
};

export type SettleOptions = {
  logger?: Logger;
  /** Test seam: a throw here is a fault in the event handler. */
  beforeApply?: (event: StripeEventLike) => void;
  stripe?: Stripe | null;
  /**
   * `WORKER_PROCESSES`: the processes this API hands its events to; it processes none itself
   * (started once migrations have run, stopped on close).
   */
  processingProcesses?: ProcessingProcesses;
  /**
   * A database already open (tests: an in-memory PGlite started from a migrated dump) instead of
   * the one `DATABASE_URL` / `PGLITE_DIR` name. It is migrated like any other and closed on close.
   */
  database?: DatabaseHandle;
};

/** The composition root: builds every part from the parsed environment. */
export async function createSettle(env: Env, options: SettleOptions = {}): Promise<Settle> {
  const logger = options.logger ?? createLogger(env.LOG_LEVEL);
  // A processing process forked by an API: it processes events and serves nothing; its API owns
  // migrations, the first admin, the schedules (reconciler, recovery, outbox) and host webhooks.
  const processingOnly = env.SETTLE_ROLE === 'worker';
  const offloaded = options.processingProcesses ?? null;
  const database = options.database ?? await createDatabase({
    databaseUrl: env.DATABASE_URL,
    pgliteDir: env.PGLITE_DIR,
    poolMax: env.DATABASE_POOL_MAX,
    // A processing process stores no webhooks.
    ingestPoolMax: env.SETTLE_ROLE === 'worker' ? 0 : env.WEBHOOK_POOL_MAX,
    queryTimeoutMs: env.DATABASE_QUERY_TIMEOUT_MS,
    connectTimeoutMs: env.DATABASE_CONNECT_TIMEOUT_MS,
  });
  if (!processingOnly) {
    try {
      const applied = await migrateDatabase(database);
      if (applied.length) logger.info({ applied }, 'migrations applied');
      await bootstrapFirstAdmin(database.db, env, logger);
    } catch (err) {
      await database.close();
      throw err;
    }
  }
  logger.info({ database: database.description }, 'database ready');

  // Gauges read from the database at scrape time are the API's: a processing process's metrics
  // are added to its API's, and would count them twice.
  const metrics = createMetrics(processingOnly ? {} : {
    inboxHealth: () => inboxHealth(database.db),
    ordersMissingInvoice: () => countOrdersMissingInvoice(database.db, env.INVOICE_MISSING_AFTER_MIN),
    eventsInOtherApiVersions: () => countEventsInOtherApiVersions(database.db, pinnedApiVersion(env), new Date(Date.now() - 86_400_000)),
    subscriptionsNeedingReview: () => countSubscriptionsNeedingReview(database.db),
    hostOutboxHealth: () => hostOutboxHealth(database.db),
  });
  const catalogue = loadCatalogue(env.PRODUCTS_FILE);
  const stripe =
    options.stripe !== undefined ? options.stripe : env.STRIPE_SECRET_KEY ? createStripeClient(env.STRIPE_SECRET_KEY, env.STRIPE_API_BASE, env.STRIPE_API_VERSION) : null;
  const progress = createProgressWatch();
  // The event worker's name on its leases (claims, and events waiting for a Stripe read).
  const workerId = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const processor = createInboxProcessor({
    db: database.db,
    catalogue,
    stripe,
    retry: { baseDelayMs: env.RETRY_BASE_MS, maxDelayMs: env.RETRY_MAX_MS, maxAttempts: env.RETRY_MAX_ATTEMPTS ?? DEFAULT_RETRY_POLICY.maxAttempts },
    unmatchedMaxAttempts: env.UNMATCHED_MAX_ATTEMPTS,
    stripeReadsAtOnce: env.STRIPE_READS_AT_ONCE,
    logger,
    metrics,
    reconcileOrder: (orderId) => reconcileAfterGenerationFailure(orderId),
    // Readiness watches each processing transaction: one that never ends means the database is wedged.
    track: progress.track,
    lease: { workerId, ms: env.WORKER_LEASE_MS },
    ...(options.beforeApply ? { beforeApply: options.beforeApply } : {}),
  });
  /** Stripe generated no events for an object of this order for a while: ask it for the order's truth. */
  async function reconcileAfterGenerationFailure(orderId: string) {
    const actor = 'stripe:event_generation_failure';
    try {
      // The order's payment, disputes and, for a plan, its subscription.
      await reconciler.reconcileOrder(orderId, actor);
    } catch (err) {
      // The event's attempt fails with it: retried on the inbox's schedule, then dead with this error.
      logger.warn({ orderId, err: errorMessage(err) }, 'reconciling after an event generation failure failed; its event will be tried again');
      throw err;
    }
  }
  const orderChanges = createOrderChangeBus(database, logger);
  processor.onOrderChanged((orderId) => orderChanges.publish(orderId));
  // Its own loop and leases, apart from event processing: a host that never answers never holds up a payment.
  const hostWebhooks =
    !processingOnly && env.HOST_WEBHOOK_URL && env.HOST_WEBHOOK_SECRET
      ? startHostWebhookSender({
          db: database.db,
          logger,
          metrics,
          workerId: `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`,
          url: env.HOST_WEBHOOK_URL,
          secret: env.HOST_WEBHOOK_SECRET,
          schedule: { delaysMs: env.HOST_WEBHOOK_RETRY_DELAYS_MS, maxAttempts: env.HOST_WEBHOOK_MAX_ATTEMPTS },
          timeoutMs: env.HOST_WEBHOOK_TIMEOUT_MS,
          concurrency: env.HOST_WEBHOOK_CONCURRENCY,
          pollMs: env.WORKER_POLL_MS,
        })
      : null;
  if (hostWebhooks) processor.onOrderChanged(() => hostWebhooks.wake());
  if (hostWebhooks) offloaded?.onOrderChanged(() => hostWebhooks.wake());
  // On every instance, sender or not: without a host, unsent changes must not pile up forever.
  const outboxRetention = startOutboxRetention({
    db: database.db,
    logger,
    retentionDays: env.HOST_WEBHOOK_RETENTION_DAYS,
    everyMs: processingOnly ? 0 : env.HOST_WEBHOOK_PRUNE_INTERVAL_MS,
  });
  const reconciler = createReconciler({
    db: database.db,
    stripe,
    catalogue,
    logger,
    metrics,
    ages: {
      pendingMinutes: env.RECONCILE_PENDING_AFTER_MIN,
      processingMinutes: env.RECONCILE_PROCESSING_AFTER_MIN,
      reviewMinutes: env.RECONCILE_REVIEW_AFTER_MIN,
      recheckMinutes: env.RECONCILE_RECHECK_MIN,
    },
    batch: env.RECONCILE_BATCH,
    subscriptionStaleAfterMinutes: env.SUBSCRIPTION_STALE_AFTER_MIN,
    onOrderChanged: (orderId) => orderChanges.publish(orderId),
  });
  const flags = createHandlerFlag({ env, db: database.db, logger, metrics, instanceId: `${hostname()}:${process.pid}` });
  // A real Unleash is polled from the start; Settle's own flag endpoint once the API listens,
  // starting from the flags stored, read just before it binds.
  if (flags.source === 'unleash' && !processingOnly) await flags.start(null);
  const processNow = (id: string) => (offloaded ? offloaded.processNow(id) : worker.processNow(id));
  const recovery = createEventRecovery({ db: database.db, stripe, logger, metrics, processNow });
  const deps: AppDeps = {
    env,
    recovery,
    database,
    reconciler,
    orderChanges,
    catalogue,
    stripe,
    processor,
    logger,
    metrics,
    jwtSecret: env.USER_JWT_SECRET ? new TextEncoder().encode(env.USER_JWT_SECRET) : null,
    flags,
    // A checkout that arrives while the flag source starts (the API is bound, its SDK not yet
    // ready) waits for it, bounded by UNLEASH_STARTUP_TIMEOUT_MS, rather than take HANDLER_MODE.
    chooseHandler: async (userId) => {
      await flags.started();
      return flags.choose(userId);
    },
    processNow,
    processingProcesses: offloaded,
    hostWebhooks,
    credits: createCreditSpender({ db: database.db, metrics, onSpent: () => hostWebhooks?.wake() }),
  };
  let webhooksInFlight = 0;
  const worker: EventWorker = startEventWorker({
    webhooksInFlight: () => webhooksInFlight,
    db: database.db,
    processor,
    logger,
    workerId,
    // Handed to processing processes: this process only acknowledges (and claims nothing).
    concurrency: offloaded ? 0 : env.WORKER_CONCURRENCY,
    pollMs: env.WORKER_POLL_MS,
    batch: env.WORKER_BATCH,
    eventsPerTransaction: env.WORKER_EVENTS_PER_TRANSACTION,
    leaseMs: env.WORKER_LEASE_MS,
  });
  if (!processingOnly) {
    await orderChanges.start();
    reconciler.start(env.RECONCILE_INTERVAL_MS);
  }
  offloaded?.start();
  let accepting = true;
  const app = await buildServer(deps, {
    afterStore: processNow,
    isAccepting: () => accepting,
    progress,
    webhooks: { enter: () => void (webhooksInFlight += 1), leave: () => void (webhooksInFlight -= 1) },
  });
  let closed: Promise<void> | null = null;
  // The bind of a listen() in progress: close() waits for it (closing a server half bound is
  // undefined), not for the rest of start-up.
  let binding: Promise<string> | null = null;

  return {
    app,
    deps,
    worker,
    progress,
    async listen() {
      if (closed) throw new Error('Settle is closing: not listening');
      // The stored flag (a kill switch) is known before the first connection is accepted. A
      // close() meanwhile waits for the bind (`binding`) and then closes the server.
      const bound = (async () => {
        if (flags.source === 'settle') await flags.load().catch((err: unknown) => {
          // Its query cut by the shutdown closing the database: the SDK starts from its endpoint's first poll.
          if (!closed) throw err;
        });
        return app.listen({ port: env.PORT, host: env.HOST });
      })();
      binding = bound;
      // The self-served source starts as the port opens, not after: checkouts and /readyz wait
      // for it from the first connection on.
      const flagsStarted = flags.source === 'settle' ? flags.start(bound.then(() => selfUrl(env.HOST, app))) : null;
      flagsStarted?.catch(() => {}); // awaited below, once bound
      const url = await bound;
      // Start-up goes on after the bind (the flag source may take UNLEASH_STARTUP_TIMEOUT_MS);
      // a close() meanwhile owns the shutdown, and nothing more is started behind it.
      if (closed) return url;
      await flagsStarted?.catch((err: unknown) => {
        // Its query cut by the shutdown closing the database: nothing to report.
        if (!closed) throw err;
      });
      if (closed) return url;
      // Only against a real Stripe account (a key from the environment), never a test's injected client.
      if (env.STRIPE_SECRET_KEY) recovery.start(env.RECOVER_INTERVAL_MS);
      return url;
    },
    close() {
      closed ??= (async () => {
        // One deadline for the whole shutdown (SHUTDOWN_TIMEOUT_MS): each stage gets what is left.
        const deadline = Date.now() + env.SHUTDOWN_TIMEOUT_MS;
        const left = () => Math.max(0, deadline - Date.now());
        accepting = false;
        flags.close();
        await binding?.catch(() => {});
        // Schedules stop first, so nothing new starts while requests drain.
        const runs = Promise.all([reconciler.stop(left()), recovery.stop(left()), outboxRetention.stop()]);
        await closeServer(app, left());
        const stopped = Promise.all([worker.stop(left()), offloaded?.stop(left()), hostWebhooks?.stop(left()), runs]);
        // A loop stuck on a database that does not answer is not waited for past the deadline either.
        if (!(await settledWithin(stopped, left() + 500))) logger.warn('background work still running at the shutdown deadline');
        await orderChanges.stop();
        // A unit of work abandoned at the deadline may still hold a connection: closing the pool
        // waits for it only so long (the process exits and PostgreSQL ends its session).
        if (!(await settledWithin(database.close(), Math.max(left(), 1_000)))) logger.warn('database connections still busy at the shutdown deadline');
        logger.info('stopped');
      })();
      return closed;
    },
  };
}

/** How this process reaches its own HTTP server (the self-served flag endpoint). */
function selfUrl(host: string, app: FastifyInstance): string {
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const h = host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return `http://${h}:${port}`;
}
