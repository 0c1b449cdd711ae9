import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { sql, type Db } from '@settle/db';
import {
  EXPECTED_OUTCOME,
  deliverEvent,
  journeyEvents,
  type JourneyExpectation,
  type PaymentJourney,
  type StripeEvent,
} from '@settle/stripe-simulator';
import { seedOrder, WEBHOOK_SECRET } from '../harness.js';

const ROOT = fileURLToPath(new URL('../../../..', import.meta.url));
const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
const DIST = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export type ApiProcess = {
  url: string;
  port: number;
  proc: ChildProcess;
  /** Exit code and signal once it stopped. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output: () => string;
};

/** Start a real API process (its own Node, its own pool and workers) against `databaseUrl`. */
/** `until`: return once the process's log matches it (start-up under way), instead of once `/readyz` answers 200. */
export async function spawnApi(databaseUrl: string, env: Record<string, string> = {}, port?: number, opts: { until?: RegExp } = {}): Promise<ApiProcess> {
  const p = port ?? (await freePort());
  // The benchmark runs the built bundle (SETTLE_API_DIST=1), as production does; tests run sources.
  const args = process.env.SETTLE_API_DIST ? [...(process.env.SETTLE_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.SETTLE_CPU_PROF}`] : []), DIST] : ['--import', 'tsx', MAIN];
  const proc = spawn(process.execPath, args, {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'test',
      PORT: String(p),
      HOST: '127.0.0.1',
      DATABASE_URL: databaseUrl,
      STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
      USER_JWT_SECRET: 'test-user-jwt-secret-0123456789',
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
      WORKER_POLL_MS: '100',
      WORKER_LEASE_MS: '3000',
      RETRY_BASE_MS: '50',
      RETRY_MAX_MS: '1000',
      RETRY_MAX_ATTEMPTS: '30',
      // A shuffled delivery can bring an order's link (its PaymentIntent) minutes after a refund
      // or dispute naming it; the event must still be waiting then, not parked: retries at
      // RETRY_MAX_MS cover the whole send deadline (~5 min), whatever the processing speed.
      UNMATCHED_MAX_ATTEMPTS: '300',
      SHUTDOWN_TIMEOUT_MS: '3000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-20_000);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const url = `http://127.0.0.1:${p}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`API process exited during start:\n${log}`);
    if (opts.until?.test(log)) break;
    try {
      const r = await fetch(`${url}/readyz`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`API process not ready after 30 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, port: p, proc, exited, output: () => log };
}

export type PlannedOrder = { orderId: string; journey: PaymentJourney; expected: JourneyExpectation; /** Its journey's events (from `planJourneys`). */ eventIds?: string[] };

/** Seed orders and build their journeys' events; the oracle is what each journey must end as. */
export async function planJourneys(db: Db, count: number, random: () => number, journeys: readonly PaymentJourney[]) {
  const orders: PlannedOrder[] = [];
  const events: StripeEvent[] = [];
  const startAt = Math.floor(Date.now() / 1000) - 30 * 86_400;
  for (let i = 0; i < count; i++) {
    const journey = journeys[Math.floor(random() * journeys.length)]!;
    const order = await seedOrder(db, { sessionId: `cs_test_${randomUUID().replaceAll('-', '')}` });
    const own = journeyEvents(journey, { orderId: order.id, checkoutSessionId: order.checkout_session_id!, amount: 995, currency: 'usd', startAt: startAt + i });
    orders.push({ orderId: order.id, journey, expected: EXPECTED_OUTCOME[journey].new, eventIds: own.map((e) => e.id) });
    events.push(...own);
  }
  return { orders, events };
}

export type SendStats = { sent: number; acknowledged: number; retried: number; byStatus: Record<string, number> };

/**
 * Send every delivery like Stripe: to one of the targets, again and again until a 2xx, with a
 * short bounded backoff. `targets()` is asked each time, so a killed process drops out.
 */
export async function sendAll(
  deliveries: StripeEvent[],
  targets: () => string[],
  opts: { concurrency: number; deadlineMs: number },
): Promise<SendStats> {
  const stats: SendStats = { sent: 0, acknowledged: 0, retried: 0, byStatus: {} };
  let next = 0;
  const deadline = Date.now() + opts.deadlineMs;
  async function lane(laneNo: number) {
    for (let i = next++; i < deliveries.length; i = next++) {
      const ev = deliveries[i]!;
      for (let attempt = 0; ; attempt++) {
        if (Date.now() > deadline) throw new Error(`delivery of ${ev.id} not acknowledged before the deadline`);
        const live = targets();
        const url = live[(i + attempt + laneNo) % Math.max(1, live.length)];
        if (!url) {
          await new Promise((r) => setTimeout(r, 50));
          continue;
        }
        stats.sent += 1;
        const r = await deliverEvent(`${url}/webhooks/stripe`, ev, WEBHOOK_SECRET);
        stats.byStatus[r.status] = (stats.byStatus[r.status] ?? 0) + 1;
        if (r.ok) {
          stats.acknowledged += 1;
          break;
        }
        stats.retried += 1;
        await new Promise((res) => setTimeout(res, Math.min(500, 20 * 2 ** Math.min(attempt, 5))));
      }
    }
  }
  await Promise.all(Array.from({ length: opts.concurrency }, (_, n) => lane(n)));
  return stats;
}

/** Wait until every stored event is settled; fails with the inbox counts if it does not. */
export async function waitForConvergence(db: Db, timeoutMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    const r = await sql<{ n: number }>`select count(*)::int as n from stripe_events where state in ('pending', 'failed')`.execute(db);
    if (Number(r.rows[0]?.n) === 0) return Date.now() - started;
    if (Date.now() - started > timeoutMs) {
      const states = await sql`select state, outcome, count(*)::int as n from stripe_events group by 1, 2`.execute(db);
      throw new Error(`inbox did not converge in ${timeoutMs} ms: ${JSON.stringify(states.rows)}`);
    }
    await new Promise((res) => setTimeout(res, 100));
  }
}

/** Compare every order with the oracle; returns the mismatches (empty when all is right). */
export async function checkOracle(db: Db, orders: PlannedOrder[], uniqueEventIds: Set<string>) {
  const problems: string[] = [];
  const rows = await db.selectFrom('orders').select(['id', 'status']).where('id', 'in', orders.map((o) => o.orderId)).execute();
  const status = new Map(rows.map((r) => [r.id, r.status]));
  const grants = await db.selectFrom('grants').select(['order_id', 'credits_revoked', 'revoked_at']).execute();
  const grantsBy = new Map<string, typeof grants>();
  for (const g of grants) grantsBy.set(g.order_id, [...(grantsBy.get(g.order_id) ?? []), g]);
  for (const o of orders) {
    const got = status.get(o.orderId);
    if (got !== o.expected.status) problems.push(`${o.orderId} (${o.journey}): status ${got}, expected ${o.expected.status}`);
    const g = grantsBy.get(o.orderId) ?? [];
    if (g.length !== o.expected.grants) problems.push(`${o.orderId} (${o.journey}): ${g.length} grants, expected ${o.expected.grants}`);
    const revoked = g.some((x) => x.credits_revoked > 0);
    if (revoked !== o.expected.revoked) problems.push(`${o.orderId} (${o.journey}): revoked ${revoked}, expected ${o.expected.revoked}`);
  }
  const stored = await db.selectFrom('stripe_events').select('id').execute();
  const storedIds = new Set(stored.map((r) => r.id));
  for (const id of uniqueEventIds) if (!storedIds.has(id)) problems.push(`event ${id} was lost`);
  if (storedIds.size !== uniqueEventIds.size) problems.push(`${storedIds.size} events stored, ${uniqueEventIds.size} sent`);
  const unsettled = await db.selectFrom('stripe_events').select(['id', 'state']).where('state', 'not in', ['processed']).execute();
  for (const u of unsettled) problems.push(`event ${u.id} ended ${u.state}`);
  return problems;
}
