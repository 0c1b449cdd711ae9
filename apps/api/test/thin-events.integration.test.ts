import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { claimDueEvents, releaseLeases, sql } from '@settle/db';
import { TEST_BACKENDS } from '@settle/db/testing';
import type { StripeEvent, StripeObject, StripeSimulator } from '@settle/stripe-simulator';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { catalogueStripePrices, DEMO_PRODUCTS } from '../src/payments/product-catalogue.js';
import { adminClient, orderState, send, startApi, type TestApi, trpcClient, userToken, waitForInbox, WEBHOOK_SECRET } from './harness.js';

/** A thin event notification as an event destination sends it (`"object": "v2.core.event"`). */
function thin(type: string, relatedObject: { id: string; type: string; url: string } | null, snapshotEvent?: string) {
  return {
    id: `evt_test_${randomUUID().replaceAll('-', '')}`,
    object: 'v2.core.event',
    type,
    livemode: false,
    created: new Date().toISOString(),
    related_object: relatedObject,
    ...(snapshotEvent ? { snapshot_event: snapshotEvent } : {}),
  };
}

/** The thin notification Stripe sends for a snapshot event: same type (v1.), same object. */
function thinFor(event: StripeEvent, withSnapshot = true) {
  const object = event.data.object as { id: string; object: string };
  const plural = `${object.object.replace('.', '/')}s`;
  return thin(`v1.${event.type}`, { id: object.id, type: object.object, url: `/v1/${plural}/${object.id}` }, withSnapshot ? event.id : undefined);
}

/**
 * Stripe between the simulator and Settle, answering only when a test lets it: while `hold` is
 * set, every request to a path it matches waits for `release`; the others pass straight through.
 * `failNext` answers the next n requests to a path it matches with Stripe's 500.
 */
async function startHoldingProxy(target: string) {
  const held: (() => void)[] = [];
  let hold: RegExp | null = null;
  let seen = 0;
  const paths: string[] = [];
  let failing: { paths: RegExp; left: number } | null = null;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      paths.push(req.url ?? '');
      const forward = async () => {
        const body = Buffer.concat(chunks);
        const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'connection', 'content-length'].includes(k)).map(([k, v]) => [k, String(v)]));
        const upstream = await fetch(`${target}${req.url}`, { method: req.method, headers, ...(body.length ? { body } : {}) });
        res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' }).end(Buffer.from(await upstream.arrayBuffer()));
      };
      if (failing && failing.left > 0 && failing.paths.test(req.url ?? '')) {
        failing.left -= 1;
        res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { type: 'api_error', message: 'Stripe is having a bad minute' } }));
        return;
      }
      if (hold?.test(req.url ?? '')) {
        seen += 1;
        held.push(() => void forward());
      } else void forward();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen: () => seen,
    /** Every request's path, in arrival order. */
    paths: () => [...paths],
    failNext(paths: RegExp, n: number) {
      failing = { paths, left: n };
    },
    failuresLeft: () => failing?.left ?? 0,
    hold(paths: RegExp) {
      hold = paths;
    },
    release() {
      hold = null;
      for (const go of held.splice(0)) go();
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe.each(TEST_BACKENDS)('thin events, foreign objects and duplicate payments against the simulator on %s', (kind) => {
  let api: TestApi;
  let simulator: StripeSimulator;
  let stripe: Awaited<ReturnType<typeof startHoldingProxy>>;
  let operator: ReturnType<typeof trpcClient>;
  beforeAll(async () => {
    const { startStripeSimulator } = await import('@settle/stripe-simulator');
    simulator = await startStripeSimulator({ retryDelayMs: 20, prices: catalogueStripePrices(DEMO_PRODUCTS) });
    // Settle reaches the simulator through a proxy that can hold Stripe's answers.
    stripe = await startHoldingProxy(simulator.url);
    // Two Stripe reads at a time, so a test can see the third wait its turn.
    // Readiness gives up on a unit of work after 1 s here, so a test can wait past it.
    api = await startApi(kind, { STRIPE_SECRET_KEY: 'sk_test_settle', STRIPE_API_BASE: stripe.url, STRIPE_READS_AT_ONCE: '2', READINESS_STALL_MS: '1000', RETRY_MAX_ATTEMPTS: '3', RETRY_BASE_MS: '10', RETRY_MAX_MS: '20', UNMATCHED_MAX_ATTEMPTS: '1' });
    simulator.configureWebhook({ url: `${api.url}/webhooks/stripe`, secret: WEBHOOK_SECRET });
    operator = await adminClient(api, `ops-${kind}`, 'operator');
  });
  afterAll(async () => {
    stripe?.release();
    await api?.close();
    await stripe?.close();
    await simulator?.close();
  });

  async function lostPayment(userId: string) {
    const client = trpcClient(api.url, await userToken(userId));
    const { orderId, checkoutSessionId } = await client.checkout.create.mutate({ productId: 'credits10' });
    const run = await simulator.runJourney('card_success', checkoutSessionId, { deliver: false });
    return { client, orderId, events: run.events };
  }
  const row = (id: string) => api.db.selectFrom('stripe_events').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

  /**
   * Whether one transaction can lock every one of these stored events at once within `ms` (a
   * batch may hold them for a moment on its way to asking Stripe). On PGlite a transaction that
   * keeps the one connection makes this wait, as it makes webhooks wait.
   */
  async function lockableWithin(ids: string[], ms: number): Promise<string> {
    const deadline = Date.now() + ms;
    const attempt = async (): Promise<string> => {
      try {
        return await api.db.transaction().execute(async (trx) => {
          for (const id of ids) await sql`select id from stripe_events where id = ${id} for update nowait`.execute(trx);
          return 'lockable';
        });
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 50));
        return attempt();
      }
    };
    const timeout = new Promise<string>((r) => setTimeout(() => r(`still locked after ${ms} ms`), ms));
    return Promise.race([attempt(), timeout]);
  }

  it('thin notifications are stored before 2xx, resolved through their snapshot events and processed like any event; the snapshots arriving too change nothing', async () => {
    const { client, orderId, events } = await lostPayment(`user_thin_${kind}`);
    const notifications = events.map((e) => thinFor(e));
    for (const n of notifications) {
      const r = await send(api, n);
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body)).toEqual({ received: true, duplicate: false });
    }
    await waitForInbox(api.db);
    expect((await client.orders.get.query({ orderId })).status).toBe('succeeded');
    const stored = await row(notifications.find((n) => n.type === 'v1.payment_intent.succeeded')!.id);
    expect(stored).toMatchObject({ type: 'v1.payment_intent.succeeded', state: 'processed', api_version: null });
    const first = await orderState(api.db, orderId);
    expect(first.grants).toHaveLength(1);

    // During a migration both kinds arrive: the snapshots change nothing.
    for (const e of events) expect((await send(api, e)).status).toBe(200);
    await waitForInbox(api.db);
    const second = await orderState(api.db, orderId);
    expect(second.order).toEqual(first.order);
    expect(second.grants).toEqual(first.grants);
    expect(second.transitions).toEqual(first.transitions);
  });

  it('a thin notification without a snapshot event is resolved through its related object', async () => {
    const { client, orderId, events } = await lostPayment(`user_related_${kind}`);
    const succeeded = events.find((e) => e.type === 'payment_intent.succeeded')!;
    expect((await send(api, thinFor(succeeded, false))).status).toBe(200);
    await waitForInbox(api.db);
    expect((await client.orders.get.query({ orderId })).status).toBe('succeeded');
  });

  it('while Stripe is slow to answer for thin notifications, none of their stored events is locked (Stripe is asked outside transactions) and readiness holds; once it answers they are processed', async () => {
    const { client, orderId, events } = await lostPayment(`user_slow_stripe_${kind}`);
    const notifications = events.map((e) => thinFor(e));
    const asked = stripe.seen();
    const pathsBefore = stripe.paths().length;
    stripe.hold(/^\/v1\/events\//);
    try {
      await Promise.all(notifications.map(async (n) => expect((await send(api, n)).status).toBe(200)));
      await vi.waitFor(() => expect(stripe.seen()).toBeGreaterThan(asked), { timeout: 10_000 });
      // Stripe has been asked and has not answered: anyone can lock every stored notification now
      // (on PGlite, the one connection is free: webhooks and the console are not kept waiting).
      expect(await lockableWithin(notifications.map((n) => n.id), 3_000)).toBe('lockable');
      // Yet those Stripe is being asked about are this worker's meanwhile: another instance's claim
      // passes them by instead of asking a slow Stripe the same again. (Notifications a later batch
      // would take are not asked about yet, and not leased: whoever claims them first may.)
      const asking = () => new Set(stripe.paths().slice(pathsBefore).map((p) => /^\/v1\/events\/([^/?]+)/.exec(p)?.[1]).filter((id) => id !== undefined));
      let held: string[] = [];
      await vi.waitFor(async () => {
        // A notification's snapshot event is what Stripe is asked for.
        held = notifications.filter((_, i) => asking().has(events[i]!.id)).map((n) => n.id);
        expect(held.length).toBeGreaterThan(0);
        const rows = await api.db.selectFrom('stripe_events').select(['id', 'locked_by', sql<boolean>`locked_until > now()`.as('leased')]).where('id', 'in', held).execute();
        for (const w of rows) expect(w).toMatchObject({ leased: true, locked_by: expect.any(String) });
      }, { timeout: 5_000 });
      const claimed = await claimDueEvents(api.db, { limit: 1000, leaseMs: 60_000, workerId: 'another-instance' });
      await releaseLeases(api.db, 'another-instance');
      expect(claimed.filter((id) => held.includes(id))).toEqual([]);
      // Held a while longer: this instance's own claims pass them by too (no second read queued).
      await new Promise((r) => setTimeout(r, 500));
      // Past READINESS_STALL_MS with Stripe still silent: waiting for Stripe is not a wedged
      // database, and a 503 here would take every instance (and its webhooks) out of service.
      await new Promise((r) => setTimeout(r, 1_200));
      const ready = await fetch(`${api.url}/readyz`);
      expect({ status: ready.status, body: await ready.json() }).toMatchObject({ status: 200 });
    } finally {
      stripe.release();
    }
    await waitForInbox(api.db);
    expect((await client.orders.get.query({ orderId })).status).toBe('succeeded');
    expect((await orderState(api.db, orderId)).grants).toHaveLength(1);
    // Stripe was asked once per snapshot event, however long it took to answer.
    const reads = stripe.paths().slice(pathsBefore).filter((p) => p.startsWith('/v1/events/'));
    expect(reads.length).toBeGreaterThan(0);
    expect(reads.length).toBe(new Set(reads).size);
  });

  it('a thin notification parked as unmatched (its PaymentIntent not linked to the order yet) is requeued by the reconciler once the order is found, and lands', async () => {
    const client = trpcClient(api.url, await userToken(`user_thin_requeue_${kind}`));
    const { orderId, checkoutSessionId } = await client.checkout.create.mutate({ productId: 'credits10' });
    const run = await simulator.runJourney('full_refund', checkoutSessionId, { deliver: false });
    // The charge's refund first: it names only the PaymentIntent, which no order knows yet.
    const refunded = thinFor(run.events.find((e) => e.type === 'charge.refunded')!);
    expect((await send(api, refunded)).status).toBe(200);
    await expect.poll(async () => (await row(refunded.id)).state, { timeout: 10_000 }).toBe('unmatched');
    for (const e of run.events.filter((e) => e.type !== 'charge.refunded')) expect((await send(api, e)).status).toBe(200);
    await waitForInbox(api.db);
    expect((await row(refunded.id)).state).toBe('unmatched');
    // Its order is found by the references its snapshot named (in its recorded error): back to the queue.
    expect((await api.settle.deps.reconciler.runOnce('test')).requeuedEvents).toBeGreaterThanOrEqual(1);
    await waitForInbox(api.db);
    expect(await row(refunded.id)).toMatchObject({ state: 'processed', order_id: orderId });
    expect((await client.orders.get.query({ orderId })).status).toBe('refunded');
  });

  describe('v2.core.health.event_generation_failure.resolved: Stripe could not make an object\'s events, then says so', () => {
    async function untilStatus(orderId: string, status: string) {
      for (const deadline = Date.now() + 5000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 25))) {
        if ((await orderState(api.db, orderId)).order.status === status) break;
      }
      return orderState(api.db, orderId);
    }

    it.each(['payment_intent', 'checkout.session'] as const)(
      'naming a %s Stripe knows as paid while Settle heard nothing of it: the order is reconciled, paid and granted once',
      async (type) => {
        const { client, orderId, events } = await lostPayment(`user_genfail_${type}_${kind}`);
        const pi = (events.find((e) => e.type === 'payment_intent.succeeded')!.data.object as { id: string }).id;
        const before = await orderState(api.db, orderId);
        // Settle missed every event: the order does not even know its PaymentIntent yet.
        expect(before.order).toMatchObject({ status: 'pending', payment_intent_id: null });
        const related = type === 'payment_intent' ? { id: pi, type } : { id: before.order.checkout_session_id!, type };
        const notification = simulator.eventGenerationFailureResolved(related, type === 'payment_intent' ? 'payment_intent.succeeded' : 'checkout.session.completed');
        // Stripe's shape: the notification names no object, the event behind it does.
        expect(notification).not.toHaveProperty('related_object');
        expect(notification).not.toHaveProperty('data');
        const r = await send(api, notification);
        expect(r.status).toBe(200);
        await waitForInbox(api.db);
        expect(await row(notification.id)).toMatchObject({ type: 'v2.core.health.event_generation_failure.resolved', state: 'processed', outcome: 'reconcile', order_id: orderId, attempts: 1 });

        const after = await untilStatus(orderId, 'succeeded');
        expect(after.order).toMatchObject({ status: 'succeeded', payment_intent_id: pi });
        expect(after.grants).toEqual([expect.objectContaining({ credits: 10, credits_revoked: 0 })]);
        expect((await client.entitlements.get.query()).credits).toBe(10);
        expect(after.transitions.filter((t) => t.to_status === 'succeeded')).toEqual([
          expect.objectContaining({ from_status: 'pending', cause: 'reconciler', actor: 'stripe:event_generation_failure', event_id: null }),
        ]);

        // Delivered again, and the missed events arriving after all: nothing moves.
        expect((await send(api, notification)).status).toBe(200);
        for (const e of events) expect((await send(api, e)).status).toBe(200);
        await waitForInbox(api.db);
        await new Promise((r) => setTimeout(r, 100));
        const again = await orderState(api.db, orderId);
        expect(again.grants).toEqual(after.grants);
        expect(again.order.status).toBe('succeeded');
      },
    );

    it('naming a plan\'s subscription whose cancelation Settle never heard of: the subscription is reconciled and the plan ends', async () => {
      const client = trpcClient(api.url, await userToken(`user_genfail_plan_${kind}`));
      const { orderId, checkoutSessionId } = await client.checkout.create.mutate({ productId: 'hobby' });
      const run = await simulator.runJourney('subscription_cancel', checkoutSessionId, { deliver: false });
      const started = run.events.findIndex((e) => e.type === 'checkout.session.completed') + 1;
      for (const e of run.events.slice(0, started)) expect((await send(api, e)).status).toBe(200);
      await waitForInbox(api.db);
      expect(await client.entitlements.get.query()).toMatchObject({ plan: 'hobby', subscriptionStatus: 'active' });
      // Stripe made no events for the cancelation that followed; it says so once resolved.
      const subscriptionId = simulator.state.checkoutSessions.get(checkoutSessionId)!.subscription as string;
      expect(simulator.state.subscriptions.get(subscriptionId)!.status).toBe('canceled');
      const notification = simulator.eventGenerationFailureResolved({ id: subscriptionId, type: 'subscription' }, 'customer.subscription.deleted');
      expect((await send(api, notification)).status).toBe(200);
      await waitForInbox(api.db);
      expect(await row(notification.id)).toMatchObject({ state: 'processed', outcome: 'reconcile', order_id: orderId });
      for (const deadline = Date.now() + 5000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 25))) {
        if ((await client.entitlements.get.query()).subscriptionStatus === 'canceled') break;
      }
      expect(await client.entitlements.get.query()).toMatchObject({ plan: null, subscriptionStatus: 'canceled' });
    });

    it('naming a paid order whose refund Stripe made no events for, while Stripe fails the reconciliation: the event is retried until the refund reaches the order', async () => {
      const { client, orderId, checkoutSessionId } = await (async () => {
        const c = trpcClient(api.url, await userToken(`user_genfail_refund_${kind}`));
        return { client: c, ...(await c.checkout.create.mutate({ productId: 'credits10' })) };
      })();
      const run = await simulator.runJourney('full_refund', checkoutSessionId, { deliver: false });
      for (const e of run.events.filter((e) => !/refund/.test(e.type))) expect((await send(api, e)).status).toBe(200);
      await waitForInbox(api.db);
      expect((await client.orders.get.query({ orderId })).status).toBe('succeeded');
      const pi = (run.events.find((e) => e.type === 'payment_intent.succeeded')!.data.object as { id: string }).id;
      // Stripe fails the reconciliation's read of the order (Settle knows the PaymentIntent: no other
      // read of these comes first) until an attempt has failed for it.
      stripe.failNext(/^\/v1\/(checkout\/sessions|payment_intents)\//, Infinity);
      const notification = simulator.eventGenerationFailureResolved({ id: pi, type: 'payment_intent' }, 'charge.refunded');
      expect((await send(api, notification)).status).toBe(200);
      await expect.poll(async () => (await row(notification.id)).errors.length, { timeout: 15_000, interval: 25 }).toBeGreaterThan(0);
      stripe.failNext(/./, 0);
      await waitForInbox(api.db);
      // Not settled when the reconciliation failed: retried, and settled once the refund reached the order.
      const settled = await row(notification.id);
      expect(settled).toMatchObject({ state: 'processed', outcome: 'reconcile', order_id: orderId, last_error: null });
      expect(settled.attempts).toBeGreaterThanOrEqual(2);
      expect(settled.errors[0]).toMatchObject({ attempt: 1, error: expect.stringMatching(/bad minute/) });
      expect((await client.orders.get.query({ orderId })).status).toBe('refunded');
      expect((await client.entitlements.get.query()).credits).toBe(0);
    });

    it('naming an object Settle did not create is ignored at once; one Stripe does not know is ignored too', async () => {
      const { events } = await lostPayment(`user_genfail_foreign_${kind}`);
      const pi = structuredClone(simulator.state.paymentIntents.get((events.find((e) => e.type === 'payment_intent.succeeded')!.data.object as { id: string }).id)!);
      simulator.state.paymentIntents.set(`pi_genfail_foreign_${kind}`, { ...pi, id: `pi_genfail_foreign_${kind}`, metadata: {} });
      const foreign = simulator.eventGenerationFailureResolved({ id: `pi_genfail_foreign_${kind}`, type: 'payment_intent' }, 'payment_intent.succeeded');
      const unknown = simulator.eventGenerationFailureResolved({ id: `pi_genfail_nobody_${kind}`, type: 'payment_intent' }, 'payment_intent.succeeded');
      for (const n of [foreign, unknown]) expect((await send(api, n)).status).toBe(200);
      await waitForInbox(api.db);
      for (const n of [foreign, unknown]) expect(await row(n.id)).toMatchObject({ state: 'ignored', attempts: 1, last_error: null });
    });

    it('whose event Stripe cannot serve is retried, then dead-lettered with Stripe\'s error', async () => {
      const n = { id: `evt_test_65genfail${randomUUID().replaceAll('-', '')}`, object: 'v2.core.event', type: 'v2.core.health.event_generation_failure.resolved', livemode: false, created: new Date().toISOString(), context: null, reason: null };
      expect((await send(api, n)).status).toBe(200);
      await waitForInbox(api.db);
      expect(await row(n.id)).toMatchObject({ state: 'dead', attempts: 3, last_error: expect.stringMatching(/could not fetch event .*Stripe 404/s) });
    });
  });

  it('a thin notification Stripe cannot resolve is retried, then dead-lettered with Stripe\'s error', async () => {
    const n = thin('v1.payment_intent.succeeded', { id: 'pi_gone', type: 'payment_intent', url: '/v1/payment_intents/pi_gone' }, 'evt_gone_for_good');
    expect((await send(api, n)).status).toBe(200);
    await waitForInbox(api.db);
    const dead = await row(n.id);
    expect(dead.state).toBe('dead');
    expect(dead.attempts).toBe(3);
    expect(dead.last_error).toMatch(/evt_gone_for_good.*Stripe 404.*No such event/s);
  });

  it('a thin notification of a v1 type Settle does not act on is settled as unsupported with no Stripe read, though its object is gone', async () => {
    const asked = stripe.seen();
    const n = thin('v1.customer.deleted', { id: 'cus_deleted_long_ago', type: 'customer', url: '/v1/customers/cus_deleted_long_ago' });
    expect((await send(api, n)).status).toBe(200);
    await waitForInbox(api.db);
    expect(await row(n.id)).toMatchObject({ state: 'processed', outcome: 'unsupported', attempts: 0, last_error: null });
    expect(stripe.seen()).toBe(asked);
  });

  it('a thin notification whose related object is a singleton (no id: v1.balance.available, v1.customer.discount.*) is stored and settled as unsupported, not refused', async () => {
    const n = { ...thin('v1.balance.available', null), related_object: { type: 'balance', url: '/v1/balance' } };
    const r = await send(api, n);
    expect(r.status).toBe(200);
    await waitForInbox(api.db);
    expect(await row(n.id)).toMatchObject({ state: 'processed', outcome: 'unsupported', object_id: null });
  });

  it('a thin notification with a bad signature is refused with 400 and not stored', async () => {
    const n = thin('v1.payment_intent.succeeded', null, 'evt_x');
    const r = await send(api, n, { secret: 'whsec_someone_else' });
    expect(r.status).toBe(400);
    expect(await api.db.selectFrom('stripe_events').select('id').where('id', '=', n.id).executeTakeFirst()).toBeUndefined();
    expect(WEBHOOK_SECRET).not.toBe('whsec_someone_else');
  });

  it('a refund of a payment Settle did not create is ignored at once (Stripe says whose it is)', async () => {
    const { events } = await lostPayment(`user_foreign_${kind}`);
    const pi = structuredClone(simulator.state.paymentIntents.get((events.find((e) => e.type === 'payment_intent.succeeded')!.data.object as { id: string }).id)!);
    const foreignPi = { ...pi, id: `pi_foreign_${kind}`, metadata: {} };
    simulator.state.paymentIntents.set(foreignPi.id as string, foreignPi);
    const refund = { id: `re_foreign_${kind}`, object: 'refund', amount: 500, currency: 'usd', created: Math.floor(Date.now() / 1000), payment_intent: foreignPi.id, charge: 'ch_x', status: 'succeeded', reason: null, metadata: {} };
    const event = { id: `evt_${randomUUID().replaceAll('-', '')}`, object: 'event', api_version: '2025-03-31.basil', created: refund.created, livemode: false, pending_webhooks: 1, request: { id: null, idempotency_key: null }, type: 'refund.updated', data: { object: refund } };
    expect((await send(api, event)).status).toBe(200);
    await waitForInbox(api.db);
    expect(await row(event.id)).toMatchObject({ state: 'ignored', attempts: 1 });
  });

  it('refunds of payments Settle did not create, while Stripe is slow to say whose they are: their events hold no lock, the other events of their batches land meanwhile, and once Stripe answers they are ignored', async () => {
    const { events } = await lostPayment(`user_foreign_slow_${kind}`);
    const pi = structuredClone(simulator.state.paymentIntents.get((events.find((e) => e.type === 'payment_intent.succeeded')!.data.object as { id: string }).id)!);
    const refundEvents = [1, 2, 3].map((n) => {
      const foreignPi = { ...pi, id: `pi_foreign_slow_${n}_${kind}`, metadata: {} };
      simulator.state.paymentIntents.set(foreignPi.id as string, foreignPi);
      const refund = { id: `re_foreign_slow_${n}_${kind}`, object: 'refund', amount: 500, currency: 'usd', created: Math.floor(Date.now() / 1000), payment_intent: foreignPi.id, charge: `ch_x${n}`, status: 'succeeded', reason: null, metadata: {} };
      return { id: `evt_${randomUUID().replaceAll('-', '')}`, object: 'event', api_version: '2025-03-31.basil', created: refund.created, livemode: false, pending_webhooks: 1, request: { id: null, idempotency_key: null }, type: 'refund.updated', data: { object: refund } };
    });
    // A purchase of Settle's, delivered together with them.
    const mine = await lostPayment(`user_beside_foreign_${kind}`);
    const asked = stripe.seen();
    // Which invoice a PaymentIntent paid, and whose it is: the questions a foreign refund raises.
    stripe.hold(/^\/v1\/(invoice_payments|payment_intents\/pi_foreign_slow_)/);
    try {
      await Promise.all([...refundEvents, ...mine.events].map(async (e) => expect((await send(api, e)).status).toBe(200)));
      await vi.waitFor(() => expect(stripe.seen()).toBeGreaterThanOrEqual(asked + 2), { timeout: 10_000 });
      // Stripe has not answered: Settle's own purchase is processed all the same.
      await expect.poll(async () => (await mine.client.orders.get.query({ orderId: mine.orderId })).status, { timeout: 10_000 }).toBe('succeeded');
      // STRIPE_READS_AT_ONCE=2: the third refund's question waits for a free slot, not in a transaction.
      expect(stripe.seen()).toBe(asked + 2);
      expect(await lockableWithin(refundEvents.map((e) => e.id), 3_000)).toBe('lockable');
      for (const e of refundEvents) expect((await row(e.id)).state).toBe('pending');
    } finally {
      stripe.release();
    }
    await waitForInbox(api.db);
    for (const e of refundEvents) expect(await row(e.id)).toMatchObject({ state: 'ignored', attempts: 1 });
    expect((await orderState(api.db, mine.orderId)).grants).toHaveLength(1);
  });

  it('a duplicate payment is refundable by its PaymentIntent; the order stays as it is', async () => {
    const client = trpcClient(api.url, await userToken(`user_dup_${kind}`));
    const { orderId, checkoutSessionId } = await client.checkout.create.mutate({ productId: 'credits10' });
    const run = await simulator.runJourney('card_success', checkoutSessionId);
    await waitForInbox(api.db);
    const succeeded = run.events.find((e) => e.type === 'payment_intent.succeeded')!;
    // The customer paid a second time (a second PaymentIntent for the same order).
    const pi = structuredClone(simulator.state.paymentIntents.get((succeeded.data.object as { id: string }).id)!);
    const charge = structuredClone(simulator.state.charges.get(pi.latest_charge as string)!);
    const dupPi: StripeObject = { ...pi, id: `pi_dup_${kind}`, latest_charge: `ch_dup_${kind}` };
    simulator.state.paymentIntents.set(dupPi.id, dupPi);
    simulator.state.charges.set(`ch_dup_${kind}`, { ...charge, id: `ch_dup_${kind}`, payment_intent: dupPi.id, amount_refunded: 0, refunded: false });
    await send(api, { ...succeeded, id: `evt_${randomUUID().replaceAll('-', '')}`, created: succeeded.created + 5, data: { object: dupPi } });
    await waitForInbox(api.db);
    const before = await orderState(api.db, orderId);
    expect((await operator.admin.orders.get.query({ orderId })).duplicatePayments).toHaveLength(1);

    await expect(operator.admin.orders.refund.mutate({ orderId, paymentIntentId: dupPi.id, amount: 5000, reason: 'paid twice' })).rejects.toMatchObject({ data: { code: 'BAD_REQUEST' } });
    await expect(operator.admin.orders.refund.mutate({ orderId, paymentIntentId: 'pi_not_this_orders', reason: 'paid twice' })).rejects.toMatchObject({ data: { code: 'NOT_FOUND' } });
    const refund = await operator.admin.orders.refund.mutate({ orderId, paymentIntentId: dupPi.id, reason: 'customer paid twice' });
    expect(refund).toMatchObject({ amount: 995, status: 'succeeded' });
    await new Promise((r) => setTimeout(r, 300));
    await waitForInbox(api.db);
    const after = await orderState(api.db, orderId);
    expect(after.order).toEqual(before.order);
    expect(after.grants).toEqual(before.grants);
    const detail = await operator.admin.orders.get.query({ orderId });
    expect(detail.duplicatePayments).toEqual([expect.objectContaining({ paymentIntentId: dupPi.id, amountRefunded: 995 })]);
    expect(detail.refunds).toEqual([expect.objectContaining({ refundId: refund.refundId, paymentIntentId: dupPi.id, status: 'succeeded' })]);
    // The two refused attempts and the refund are all in the audit log, each once.
    const audit = await api.db.selectFrom('admin_audit').selectAll().where('action', '=', 'orders.refund').where('target', '=', `order:${orderId}`).orderBy('id').execute();
    expect(audit.map((a) => (a.details as { status?: string }).status)).toEqual(['refused', 'refused', expect.not.stringMatching(/^refused$/)]);
  });

  it('a dispute of a duplicate payment, lost, leaves the order paid by its own payment and its credits', async () => {
    const client = trpcClient(api.url, await userToken(`user_dup_dispute_${kind}`));
    const { orderId, checkoutSessionId } = await client.checkout.create.mutate({ productId: 'credits10' });
    const run = await simulator.runJourney('card_success', checkoutSessionId);
    await waitForInbox(api.db);
    const succeeded = run.events.find((e) => e.type === 'payment_intent.succeeded')!;
    const pi = structuredClone(simulator.state.paymentIntents.get((succeeded.data.object as { id: string }).id)!);
    const dupPi: StripeObject = { ...pi, id: `pi_dup_dispute_${kind}`, latest_charge: `ch_dup_dispute_${kind}` };
    await send(api, { ...succeeded, id: `evt_${randomUUID().replaceAll('-', '')}`, created: succeeded.created + 5, data: { object: dupPi } });
    await waitForInbox(api.db);
    expect((await operator.admin.orders.get.query({ orderId })).duplicatePayments).toHaveLength(1);
    const before = await orderState(api.db, orderId);
    // The customer's bank takes the second charge back.
    const dispute = (status: string, at: number) => ({
      id: `evt_${randomUUID().replaceAll('-', '')}`, object: 'event', type: status === 'needs_response' ? 'charge.dispute.created' : 'charge.dispute.closed', created: at,
      api_version: succeeded.api_version, livemode: false,
      data: { object: { id: `dp_dup_${kind}`, object: 'dispute', amount: dupPi.amount, currency: dupPi.currency, created: succeeded.created + 10, charge: dupPi.latest_charge, payment_intent: dupPi.id, status } },
    });
    for (const e of [dispute('needs_response', succeeded.created + 10), dispute('lost', succeeded.created + 20)]) expect((await send(api, e)).status).toBe(200);
    await waitForInbox(api.db);
    const after = await orderState(api.db, orderId);
    expect(after.order).toEqual(before.order);
    expect(after.order.status).toBe('succeeded');
    expect(after.grants).toEqual(before.grants);
    expect((await client.entitlements.get.query()).credits).toBe(10);
  });
});

