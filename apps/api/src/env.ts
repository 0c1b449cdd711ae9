import { z } from 'zod';
import { MIN_ADMIN_PASSWORD, passwordProblem } from './lib/password.js';

const csv = z
  .string()
  .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean));
const int = (def: number) => z.coerce.number().int().nonnegative().default(def);

/** Every setting Settle reads. `process.env` is read here and nowhere else. */
export const EnvSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    HOST: z.string().default('127.0.0.1'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    DATABASE_URL: z.string().url().optional(),
    DATABASE_POOL_MAX: int(10),
    PGLITE_DIR: z.string().default('./.data/pglite'),
    STRIPE_SECRET_KEY: z.string().min(1).optional(),
    STRIPE_WEBHOOK_SECRET: csv.optional(),
    STRIPE_API_BASE: z.string().url().optional(),
    /** Max age of a signed event, and how far in the future its timestamp may be; at least 1 s (0 would turn the check off). */
    STRIPE_WEBHOOK_TOLERANCE_S: z.coerce.number().int().min(1).default(300),
    /** The Stripe API version Settle pins (default: the SDK's); events rendered in another are flagged. */
    STRIPE_API_VERSION: z.string().regex(/^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$/).optional(),
    /** How often missed events are recovered from Stripe's Events API (0: never; also on start). */
    RECOVER_INTERVAL_MS: z.coerce.number().int().min(0).default(600_000),
    PUBLIC_URL: z.string().url().default('http://localhost:3000'),
    CHECKOUT_SUCCESS_URL: z.string().url().optional(),
    CHECKOUT_CANCEL_URL: z.string().url().optional(),
    /** Where the Stripe customer portal sends the customer back (default PUBLIC_URL). */
    BILLING_PORTAL_RETURN_URL: z.string().url().optional(),
    /** How long after a subscription's period end without news the reconciler asks Stripe about it. */
    SUBSCRIPTION_STALE_AFTER_MIN: int(120),
    USER_JWT_SECRET: z.string().min(16).optional(),
    PRODUCTS_FILE: z.string().optional(),
    HANDLER_MODE: z.enum(['legacy', 'new']).default('new'),
    /** Unset: the handler flag is served from Settle's own database (GET /api/client/features). */
    UNLEASH_URL: z.string().url().optional(),
    UNLEASH_API_TOKEN: z.string().min(1).optional(),
    UNLEASH_ADMIN_TOKEN: z.string().min(1).optional(),
    UNLEASH_REFRESH_MS: z.coerce.number().int().min(50).default(15_000),
    /**
     * The Unleash environment `admin.flags.set` writes to (the kill switch included); it must be
     * the one the client token reads (checked at start for `project:environment.secret` tokens).
     */
    UNLEASH_ENVIRONMENT: z.string().min(1).default('development'),
    UNLEASH_PROJECT: z.string().min(1).default('default'),
    /** Where the SDK keeps its last known flags (used while Unleash is unreachable). */
    UNLEASH_BACKUP_DIR: z.string().default('./.data/unleash'),
    /** How long start-up waits for the first flag state; payments never wait for it. */
    UNLEASH_STARTUP_TIMEOUT_MS: z.coerce.number().int().min(0).default(5_000),
    WORKER_CONCURRENCY: z.coerce.number().int().min(0).max(64).default(4),
    /**
     * Processes the API forks to process events on their own event loops and cores (PostgreSQL
     * only); 0: the API process processes them itself. WORKER_CONCURRENCY applies to each.
     */
    WORKER_PROCESSES: z.coerce.number().int().min(0).max(16).default(0),
    /** CPU priority (nice, 0–19) of those processes: acknowledging Stripe goes first on busy cores. */
    WORKER_NICE: z.coerce.number().int().min(0).max(19).default(10),
    /** Set by an API for the processing processes it forks; not a setting. */
    SETTLE_ROLE: z.enum(['api', 'worker']).default('api'),
    /**
     * Webhook inserts in flight at once; each carries every event that arrived meanwhile (group
     * commit). One by default: on two cores with processing running it acknowledged more per
     * second at less CPU per event and a shorter tail than 2 or 4 (docs/PERFORMANCE.md).
     */
    WEBHOOK_INSERT_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(1),
    /**
     * PostgreSQL: connections of the webhook inbox's own pool, beside DATABASE_POOL_MAX, so slow
     * console queries or processing holding every pooled connection never keep Stripe's deliveries
     * from being stored. 0: inserts share the main pool.
     */
    WEBHOOK_POOL_MAX: z.coerce.number().int().min(0).max(64).default(2),
    /**
     * Stripe reads in flight at once per processing process (thin notifications, whose objects
     * events without an order are about). At Stripe's usual 100–300 ms a read, 8 stays well under
     * its live-mode limit of 100 reads a second; raise it with a higher limit.
     */
    STRIPE_READS_AT_ONCE: z.coerce.number().int().min(1).max(100).default(8),
    WORKER_POLL_MS: z.coerce.number().int().min(10).default(500),
    WORKER_BATCH: z.coerce.number().int().min(1).max(1000).default(50),
    /**
     * Events processed in one transaction (one commit, one statement per kind of write) when a
     * backlog builds. Larger batches cost less CPU per event (draining a stored backlog here: 25
     * → 100 cut it by about a third, 1.3k → 2.1k events/s) but run longer on the event loop and
     * in PostgreSQL, so during a burst the acknowledgement tail grows: raise it for catching up
     * (after an outage, a recovery), not for serving.
     */
    WORKER_EVENTS_PER_TRANSACTION: z.coerce.number().int().min(1).max(1000).default(25),
    WORKER_LEASE_MS: z.coerce.number().int().min(100).default(30_000),
    RETRY_BASE_MS: z.coerce.number().int().min(1).default(1_000),
    RETRY_MAX_MS: z.coerce.number().int().min(1).default(3_600_000),
    RETRY_MAX_ATTEMPTS: z.coerce.number().int().min(1).default(12),
    UNMATCHED_MAX_ATTEMPTS: z.coerce.number().int().min(1).default(8),
    SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).default(10_000),
    /** A paid one-time order without its invoice this long after payment is flagged. */
    INVOICE_MISSING_AFTER_MIN: z.coerce.number().int().min(1).default(60),
    RECONCILE_INTERVAL_MS: z.coerce.number().int().min(0).default(300_000),
    RECONCILE_PENDING_AFTER_MIN: z.coerce.number().int().min(0).default(24 * 60 + 10),
    RECONCILE_PROCESSING_AFTER_MIN: z.coerce.number().int().min(0).default(120),
    RECONCILE_REVIEW_AFTER_MIN: z.coerce.number().int().min(0).default(60),
    RECONCILE_RECHECK_MIN: z.coerce.number().int().min(0).default(60),
    RECONCILE_BATCH: z.coerce.number().int().min(1).max(1000).default(50),
    ADMIN_EMAIL: z.string().email().optional(),
    ADMIN_PASSWORD: z.string().min(MIN_ADMIN_PASSWORD).optional(),
    /** Console session lifetime. */
    ADMIN_SESSION_HOURS: z.coerce.number().positive().max(24 * 30).default(12),
    /** Extra origins allowed to send cookie-authenticated mutations (the API's own origin and PUBLIC_URL always are). */
    ADMIN_ORIGINS: csv.optional(),
    /** Where the built console is (served at /admin/); default: apps/admin/dist beside the API. */
    ADMIN_CONSOLE_DIR: z.string().optional(),
    /** Where Settle POSTs entitlement and order changes (Standard Webhooks); unset: nothing is sent. */
    HOST_WEBHOOK_URL: z.string().refine(isHttpUrl, 'HOST_WEBHOOK_URL must be an http:// or https:// URL').optional(),
    HOST_WEBHOOK_SECRET: z.string().refine(isStandardWebhookSecret, 'HOST_WEBHOOK_SECRET must be "whsec_" followed by base64 of 24 to 64 random bytes (the Standard Webhooks format)').optional(),
    HOST_WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(10),
    /** Delay before each attempt, in ms (the last repeats): Svix's schedule by default. */
    HOST_WEBHOOK_RETRY_DELAYS_MS: csv
      .pipe(z.array(z.string().regex(/^\d+$/, 'delays are whole milliseconds').transform(Number)).min(1))
      .default([0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000]),
    HOST_WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(15_000),
    HOST_WEBHOOK_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(8),
    /** Days the host outbox keeps delivered and dead messages, and messages no host was configured to receive. */
    HOST_WEBHOOK_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
    /** How often each instance prunes the host outbox past its retention (0: never). */
    HOST_WEBHOOK_PRUNE_INTERVAL_MS: z.coerce.number().int().min(0).default(3_600_000),
    /** Server-side statement timeout on PostgreSQL; the client drops a connection silent for 1 s longer (0: off). */
    DATABASE_QUERY_TIMEOUT_MS: int(30_000),
    DATABASE_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).default(5_000),
    /** A webhook whose event is not committed within this is answered 503 (Stripe retries); while an insert runs longer, at once. */
    WEBHOOK_STORE_DEADLINE_MS: z.coerce.number().int().min(100).default(5_000),
    /** Webhook events waiting for an insert, at most; past it 503 at once. */
    WEBHOOK_QUEUE_MAX: z.coerce.number().int().min(1).default(5_000),
    /**
     * /readyz fails when an inbox insert or a processing transaction has run this long (Stripe reads
     * between transactions are not counted), or a processing process (WORKER_PROCESSES) has not
     * reported for this long or has a transaction running this long; the database probe waits at
     * most this (and 2 s). Failing claims of due events do not fail it: the database is shared, so
     * they would take every instance out of the load balancer, webhooks included (they are logged
     * and the worker tries again).
     */
    READINESS_STALL_MS: z.coerce.number().int().min(100).default(15_000),
    /** Fastify's trustProxy: unset/false (the socket address is the client), true, a hop count, or addresses/CIDRs (comma separated). */
    TRUST_PROXY: z.string().optional(),
    /** Optional claims end-user JWTs must carry (exp is always required). */
    USER_JWT_AUDIENCE: z.string().min(1).optional(),
    USER_JWT_ISSUER: z.string().min(1).optional(),
    /** Requests per minute to /trpc per client address, and per end user on user procedures. */
    RATE_LIMIT_IP_PER_MIN: z.coerce.number().int().min(1).default(600),
    RATE_LIMIT_USER_PER_MIN: z.coerce.number().int().min(1).default(120),
    /** `checkout.create` calls per minute per end user (each one is a Stripe API call). */
    RATE_LIMIT_CHECKOUT_PER_MIN: z.coerce.number().int().min(1).default(10),
    /** Failed console sign-ins in 15 minutes that lock an address (any accounts), and an account (from any addresses). */
    LOGIN_FAILURES_PER_ADDRESS: z.coerce.number().int().min(5).default(50),
    LOGIN_FAILURES_PER_ACCOUNT: z.coerce.number().int().min(5).default(20),
    /** Procedures in one tRPC batch request. */
    TRPC_MAX_BATCH: z.coerce.number().int().min(1).default(20),
    /** Live status streams (`orders.onStatus`) open at once per end user, per instance. */
    SUBSCRIPTIONS_PER_USER: z.coerce.number().int().min(1).default(10),
    /** Unpaid (pending) orders an end user may have open at once; checkout refuses more. */
    OPEN_ORDERS_PER_USER: z.coerce.number().int().min(1).default(20),
  })
  .superRefine((env, ctx) => {
    if (env.UNLEASH_URL && !env.UNLEASH_API_TOKEN) {
      ctx.addIssue({ code: 'custom', path: ['UNLEASH_API_TOKEN'], message: 'UNLEASH_API_TOKEN is required with UNLEASH_URL' });
    }
    const tokenEnvironment = env.UNLEASH_URL && env.UNLEASH_API_TOKEN ? unleashTokenEnvironment(env.UNLEASH_API_TOKEN) : null;
    if (tokenEnvironment && tokenEnvironment !== '*' && tokenEnvironment !== env.UNLEASH_ENVIRONMENT) {
      ctx.addIssue({
        code: 'custom',
        path: ['UNLEASH_ENVIRONMENT'],
        message:
          `UNLEASH_API_TOKEN reads the flags of Unleash environment "${tokenEnvironment}", but UNLEASH_ENVIRONMENT is "${env.UNLEASH_ENVIRONMENT}" ` +
          `(where admin.flags.set writes, the kill switch included): its changes would never reach this instance. ` +
          `Set UNLEASH_ENVIRONMENT=${tokenEnvironment}, or use a client token of "${env.UNLEASH_ENVIRONMENT}"`,
      });
    }
    const weak = env.ADMIN_PASSWORD && env.ADMIN_EMAIL ? passwordProblem(env.ADMIN_PASSWORD, env.ADMIN_EMAIL) : null;
    if (weak) ctx.addIssue({ code: 'custom', path: ['ADMIN_PASSWORD'], message: weak });
    if (env.UNLEASH_ADMIN_TOKEN && !env.UNLEASH_URL) {
      ctx.addIssue({ code: 'custom', path: ['UNLEASH_ADMIN_TOKEN'], message: 'UNLEASH_ADMIN_TOKEN needs UNLEASH_URL' });
    }
    if (env.HOST_WEBHOOK_URL && !env.HOST_WEBHOOK_SECRET) {
      ctx.addIssue({ code: 'custom', path: ['HOST_WEBHOOK_SECRET'], message: 'HOST_WEBHOOK_SECRET is required with HOST_WEBHOOK_URL (whsec_ + base64)' });
    }
    if (env.HOST_WEBHOOK_SECRET && !env.HOST_WEBHOOK_URL) {
      ctx.addIssue({ code: 'custom', path: ['HOST_WEBHOOK_URL'], message: 'HOST_WEBHOOK_SECRET is set but HOST_WEBHOOK_URL is not: where should Settle send webhooks?' });
    }
    if (env.WORKER_PROCESSES > 0 && !env.DATABASE_URL) {
      ctx.addIssue({ code: 'custom', path: ['WORKER_PROCESSES'], message: 'WORKER_PROCESSES needs DATABASE_URL: the embedded database belongs to one process' });
    }
    if (env.NODE_ENV !== 'production') return;
    for (const key of ['STRIPE_WEBHOOK_SECRET', 'USER_JWT_SECRET', 'STRIPE_SECRET_KEY'] as const) {
      if (!env[key]) ctx.addIssue({ code: 'custom', path: [key], message: `${key} is required in production` });
    }
  });

export type Env = z.infer<typeof EnvSchema>;

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}

/**
 * The environment an Unleash API token is for, from its `project:environment.secret` form
 * (`default:production.abc…`, `*:development.abc…`, `[]:production.abc…`); null for tokens in
 * any other form (an Edge or proxy token, a personal access token), which are accepted unchecked.
 */
export function unleashTokenEnvironment(token: string): string | null {
  return /^[^:\s]+:([^.:\s]+)\.\S+$/.exec(token)?.[1] ?? null;
}

/** `whsec_` + standard base64 of 24–64 bytes, as Standard Webhooks (and Svix) issue them. */
function isStandardWebhookSecret(value: string): boolean {
  const m = /^whsec_([A-Za-z0-9+/]+={0,2})$/.exec(value);
  if (!m || m[1]!.length % 4 !== 0) return false;
  const bytes = Buffer.from(m[1]!, 'base64').length;
  return bytes >= 24 && bytes <= 64;
}

/** Parse the environment once; on bad input, fail with every problem listed. */
export function parseEnv(source: Record<string, string | undefined>): Env {
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = EnvSchema.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}
