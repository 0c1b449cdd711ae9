import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '@settle/db/testing';
import { applyCreditDelta, createAdminToken, insertOrder, sql, type DatabaseKind, type Db, type Trx } from '@settle/db';
import { deliverEvent, type StripeEvent } from '@settle/stripe-simulator';
import { createTRPCClient, httpLink, httpSubscriptionLink, splitLink } from '@trpc/client';
import { EventSource } from 'eventsource';
import { SignJWT } from 'jose';
import type Stripe from 'stripe';
import { createSettle, type Settle, type SettleOptions } from '../src/app.js';
import { parseEnv } from '../src/env.js';
import { catalogueStripePrices, DEMO_PRODUCTS } from '../src/payments/product-catalogue.js';
import { createLogger } from '../src/lib/logger.js';
import type { AppRouter } from '../src/trpc/root.js';
import type { OrderDto } from '../src/payments/order.mapper.js';

export const WEBHOOK_SECRET = 'whsec_test_settle_secret';
export const JWT_SECRET = 'test-user-jwt-secret-0123456789';

export type TestApi = {
  settle: Settle;
  url: string;
  db: Db;
  /** Connection string of the throwaway PostgreSQL database (null on PGlite). */
  databaseUrl: string | null;
  close(): Promise<void>;
};

/** Start a real Settle API on a random port against a fresh database of the given kind. */
export async function startApi(
  kind: DatabaseKind,
  env: Record<string, string> = {},
  options: SettleOptions & { database?: TestDatabase } = {},
): Promise<TestApi> {
  const { database: given, ...settleOptions } = options;
  let database: TestDatabase | null = null;
  let databaseUrl: string | null = null;
  /** On PGlite (unless the test names its own folder): a fresh in-memory database from the migrated dump, the API's to close. */
  let embedded: TestDatabase | null = null;
  if (kind === 'postgres') {
    database = given ?? (await createTestDatabase('postgres'));
    databaseUrl = database.url;
    if (!given) await database.close();
  } else if (!env.PGLITE_DIR && !env.DATABASE_URL) {
    embedded = await createTestDatabase('pglite');
  }
  const parsed = parseEnv({
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
    USER_JWT_SECRET: JWT_SECRET,
    WORKER_POLL_MS: '50',
    RETRY_BASE_MS: '20',
    RETRY_MAX_MS: '200',
    // Tests drive many checkouts and calls as one user from one address; the limits have their own tests.
    RATE_LIMIT_CHECKOUT_PER_MIN: '10000',
    RATE_LIMIT_USER_PER_MIN: '100000',
    RATE_LIMIT_IP_PER_MIN: '100000',
    OPEN_ORDERS_PER_USER: '10000',
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : { PGLITE_DIR: 'memory://' }),
    ...env,
  });
  const settle = await createSettle(parsed, { logger: createLogger(parsed.LOG_LEVEL), ...settleOptions, ...(embedded ? { database: embedded } : {}) });
  const url = await settle.listen();
  return {
    settle,
    url,
    db: settle.deps.database.db,
    databaseUrl,
    async close() {
      await settle.close();
      if (database && !given) await database.dispose();
    },
  };
}

/** A user token as a host signs it; `claims` adds to `sub`, `iat` and `exp` (e.g. `{settle_scope: 'read'}`). */
export async function userToken(userId: string, claims: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject(userId).setIssuedAt().setExpirationTime('1h')
    .sign(new TextEncoder().encode(JWT_SECRET));
}

export function trpcClient(url: string, token?: string) {
  return createTRPCClient<AppRouter>({
    links: [httpLink({ url: `${url}/trpc`, headers: () => (token ? { authorization: `Bearer ${token}` } : {}) })],
  });
}

export function send(api: TestApi, event: unknown, opts: { secret?: string; timestamp?: number } = {}) {
  return deliverEvent(`${api.url}/webhooks/stripe`, event, opts.secret ?? WEBHOOK_SECRET, opts);
}

/** Insert an order as `checkout.create` would have, for tests that need no Stripe API. */
export async function seedOrder(
  db: Db,
  o: { userId?: string; handler?: 'legacy' | 'new'; amount?: number; sessionId?: string; productId?: string; mode?: 'payment' | 'subscription' } = {},
) {
  const id = randomUUID();
  return insertOrder(db, {
    id,
    user_id: o.userId ?? `user_${id.slice(0, 8)}`,
    product_id: o.productId ?? 'credits10',
    ...(o.mode ? { mode: o.mode } : {}),
    amount: o.amount ?? 995,
    currency: 'usd',
    status: 'pending',
    handler: o.handler ?? 'new',
    checkout_session_id: o.sessionId ?? `cs_test_${id.replaceAll('-', '')}`,
  });
}

/** Give a user credits as a paid order's grant does (ledger entry, host webhook), for tests about spending them. */
/** Give a user credits; `alsoInTransaction` runs in the same transaction, after the grant. */
export async function grantCredits(db: Db, userId: string, credits: number, alsoInTransaction?: (trx: Trx) => Promise<unknown>): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await applyCreditDelta(trx, { userId, orderId: null, delta: credits, reason: 'grant' });
    await alsoInTransaction?.(trx);
  });
}

/** Wait until no inbox event is due or being retried (bounded). */
export async function waitForInbox(db: Db, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await sql<{ n: number }>`select count(*)::int as n from stripe_events where state in ('pending', 'failed')`.execute(db);
    if (Number(r.rows[0]?.n) === 0) return;
    if (Date.now() > deadline) {
      const left = await sql<Record<string, unknown>>`
        select id, type, state, attempts, next_attempt_at, locked_by, locked_until, now() as at, last_error from stripe_events
        where state in ('pending', 'failed') order by received_at limit 5`.execute(db);
      throw new Error(`inbox not drained after ${timeoutMs} ms (${r.rows[0]?.n} left): ${JSON.stringify(left.rows)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Every row of the tables a webhook may change, for "nothing changed" checks. */
export async function snapshot(db: Db) {
  const tables = ['orders', 'order_transitions', 'stripe_events', 'grants', 'credit_ledger', 'entitlements', 'invoices', 'host_deliveries'] as const;
  const out: Record<string, unknown[]> = {};
  for (const t of tables) out[t] = (await sql`select * from ${sql.table(t)} order by 1`.execute(db)).rows;
  return out;
}

export async function orderState(db: Db, orderId: string) {
  const order = await db.selectFrom('orders').selectAll().where('id', '=', orderId).executeTakeFirstOrThrow();
  const grants = await db.selectFrom('grants').selectAll().where('order_id', '=', orderId).execute();
  const transitions = await db.selectFrom('order_transitions').selectAll().where('order_id', '=', orderId).orderBy('id').execute();
  return { order, grants, transitions };
}

export type { StripeEvent, Stripe };

/** A Settle API wired to a fresh offline Stripe simulator, which delivers its webhooks to it. */
export async function startApiWithSimulator(kind: DatabaseKind, env: Record<string, string> = {}) {
  const { startStripeSimulator } = await import('@settle/stripe-simulator');
  const simulator = await startStripeSimulator({ retryDelayMs: 20, prices: catalogueStripePrices(DEMO_PRODUCTS) });
  const api = await startApi(kind, { STRIPE_SECRET_KEY: 'sk_test_settle', STRIPE_API_BASE: simulator.url, ...env });
  simulator.configureWebhook({ url: `${api.url}/webhooks/stripe`, secret: WEBHOOK_SECRET });
  return {
    api,
    simulator,
    async close() {
      await simulator.close();
      await api.close();
    },
  };
}

/** A tRPC client with a fresh admin API token of the given role. */
export async function adminClient(api: TestApi, name: string, role: 'viewer' | 'operator' | 'owner' = 'operator') {
  return trpcClient(api.url, (await createAdminToken(api.db, { name, role, createdBy: 'test' })).token);
}

/** A user's Checkout through the API (the simulator or Stripe creates the session). */
export async function checkoutAs(api: TestApi, userId: string, productId = 'credits10') {
  const client = trpcClient(api.url, await userToken(userId));
  return { client, ...(await client.checkout.create.mutate({ productId })) };
}
/** Whole subscription lifecycles in Stripe's current shapes (payments-core's testing module), for tests outside apps/api too. */
export { buildLifecycle } from '@settle/payments-core/testing';

/** A client as a browser holds it: subscriptions over SSE with the token in connectionParams, the rest over HTTP. */
export function liveClient(url: string, token: string) {
  return createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === 'subscription',
        true: httpSubscriptionLink({ url: `${url}/trpc`, EventSource, connectionParams: () => ({ token }) }),
        false: httpLink({ url: `${url}/trpc`, headers: () => ({ authorization: `Bearer ${token}` }) }),
      }),
    ],
  });
}

/** Collect what `orders.onStatus` pushes until `done` says stop (15 s at most); rejects with the stream's error. */
export function watchOrderStatus(url: string, token: string, orderId: string, done: (seen: OrderDto[]) => boolean) {
  const seen: OrderDto[] = [];
  return new Promise<OrderDto[]>((resolve, reject) => {
    const timer = setTimeout(() => {
      sub.unsubscribe();
      reject(new Error(`timed out; saw ${JSON.stringify(seen.map((o) => o.status))}`));
    }, 15_000);
    const sub = liveClient(url, token).orders.onStatus.subscribe(
      { orderId },
      {
        onData(order) {
          seen.push(order as OrderDto);
          if (!done(seen)) return;
          clearTimeout(timer);
          sub.unsubscribe();
          resolve(seen);
        },
        onError(err) {
          clearTimeout(timer);
          sub.unsubscribe();
          reject(err);
        },
      },
    );
  });
}
