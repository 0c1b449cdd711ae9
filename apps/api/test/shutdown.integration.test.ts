import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { journeyEvents } from '@settle/stripe-simulator';
import pg from 'pg';
import { createTestDatabase } from '@settle/db/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { createSettle } from '../src/app.js';
import { parseEnv } from '../src/env.js';
import { createLogger } from '../src/lib/logger.js';
import { seedOrder, send, startApi, userToken, WEBHOOK_SECRET, type TestApi } from './harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A Stripe that takes every request and never answers (a hung API, a silent network). */
async function silentStripe() {
  let seen = 0;
  const server: Server = createServer(() => {
    seen += 1;
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen: () => seen,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

/** Graceful shutdown, in-process: what a SIGTERM runs (`settle.close()`), timed. */
describe.skipIf(!process.env.DATABASE_URL)('graceful shutdown: in-flight requests, live streams and runs waiting on Stripe', () => {
  let api: TestApi | undefined;
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
    await api?.close();
    api = undefined;
  });

  it('a webhook being stored when shutdown begins is answered 200 once stored, not cut off', async () => {
    api = await startApi('postgres', { SHUTDOWN_TIMEOUT_MS: '10000' });
    const order = await seedOrder(api.db);
    const [event] = journeyEvents('card_success', { orderId: order.id, checkoutSessionId: order.checkout_session_id!, amount: 995, currency: 'usd', startAt: Math.floor(Date.now() / 1000) - 60 });
    // Another session holds the inbox table: the webhook's insert waits for it.
    const blocker = new pg.Client({ connectionString: api.databaseUrl! });
    await blocker.connect();
    cleanups.push(() => blocker.end());
    await blocker.query('begin');
    await blocker.query('lock table stripe_events in exclusive mode');
    const delivery = send(api, event).then((r) => ({ status: r.status }), (err: unknown) => ({ status: 0, err: String(err) }));
    await sleep(300);
    const closing = api.settle.close();
    await sleep(300);
    await blocker.query('commit');
    const releasedAt = Date.now();
    expect(await delivery).toEqual({ status: 200 });
    await closing;
    // Done once the request was: not at the deadline (10 s) with the client's idle keep-alive connection.
    expect(Date.now() - releasedAt).toBeLessThan(3_000);
    const stored = await new pg.Client({ connectionString: api.databaseUrl! });
    await stored.connect();
    const { rows } = await stored.query('select id from stripe_events where id = $1', [event!.id]);
    await stored.end();
    expect(rows).toHaveLength(1);
  });

  it('an open live-status stream does not hold shutdown up: it is closed at once (EventSource reconnects elsewhere)', async () => {
    api = await startApi('postgres', { SHUTDOWN_TIMEOUT_MS: '10000' });
    const order = await seedOrder(api.db, { userId: 'user_streaming' });
    const token = await userToken('user_streaming');
    const res = await fetch(`${api.url}/trpc/orders.onStatus?input=${encodeURIComponent(JSON.stringify({ orderId: order.id }))}`, {
      headers: { accept: 'text/event-stream', authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let received = '';
    while (!received.includes('"pending"')) {
      const chunk = await reader.read();
      if (chunk.done) break;
      received += new TextDecoder().decode(chunk.value);
    }
    expect(received).toContain('"pending"');
    const startedAt = Date.now();
    const ended = reader.read().then(() => 'ended', () => 'ended');
    await api.settle.close();
    const closeMs = Date.now() - startedAt;
    expect(await ended).toBe('ended');
    expect(closeMs).toBeLessThan(3_000);
  });

  it('a reconciliation and an event recovery waiting on a Stripe that never answers stop within SHUTDOWN_TIMEOUT_MS', async () => {
    const stripe = await silentStripe();
    cleanups.push(() => stripe.close());
    api = await startApi('postgres', {
      STRIPE_SECRET_KEY: 'sk_test_silent',
      STRIPE_API_BASE: stripe.url,
      SHUTDOWN_TIMEOUT_MS: '1500',
      RECONCILE_INTERVAL_MS: '100',
      RECONCILE_PENDING_AFTER_MIN: '0',
    });
    await seedOrder(api.db);
    // Recovery asked Stripe for events at start; the reconciler asks for the stuck order's session.
    const deadline = Date.now() + 10_000;
    while (stripe.seen() < 2 && Date.now() < deadline) await sleep(50);
    expect(stripe.seen()).toBeGreaterThanOrEqual(2);
    const startedAt = Date.now();
    await api.settle.close();
    expect(Date.now() - startedAt).toBeLessThan(1_500 + 1_500);
  });
});

/** A SIGTERM can come while start-up is still under way (main.ts installs its handlers first). */
describe('shutdown racing start-up', () => {
  it('close() while listen() is still binding: the server ends up closed, not listening behind the shutdown', async () => {
    const env = parseEnv({ NODE_ENV: 'test', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', PGLITE_DIR: 'memory://', STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET, USER_JWT_SECRET: 'test-user-jwt-secret-0123456789' });
    const settle = await createSettle(env, { logger: createLogger('silent'), database: await createTestDatabase('pglite') });
    const listening = settle.listen();
    await settle.close();
    const url = await listening;
    await sleep(300);
    expect(settle.app.server.listening).toBe(false);
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
    await expect(settle.listen()).rejects.toThrow(/closing/);
  });
});
