/**
 * The operator's view of incidents: events linked to their order (from the event or its error),
 * the order's incident badge and filter, every attempt's error and every replay kept on the
 * timeline, the "Needs attention" split, substring search, and the refund preview.
 */
import { createAdminToken, insertEvent, settleEvent } from '@settle/db';
import { TEST_BACKENDS } from '@settle/db/testing';
import { buildLifecycle } from '@settle/payments-core/testing';
import { event as stripeEvent, incidentJourneyEvents, journeyEvents } from '@settle/stripe-simulator';
import { TRPCClientError } from '@trpc/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedOrder, send, startApi, trpcClient, waitForInbox, type TestApi } from './harness.js';

describe.each(TEST_BACKENDS)('incidents and the operator views on %s', (kind) => {
  let api: TestApi;
  let admin: ReturnType<typeof trpcClient>;
  const faulty = new Set<string>();
  const now = () => Math.floor(Date.now() / 1000);

  beforeAll(async () => {
    api = await startApi(kind, { RETRY_MAX_ATTEMPTS: '2', RETRY_BASE_MS: '10', RETRY_MAX_MS: '20' }, {
      beforeApply: (event) => {
        if (faulty.has(event.id)) throw new Error('injected handler fault: ledger service unavailable');
      },
    });
    admin = trpcClient(api.url, (await createAdminToken(api.db, { name: `ops-${kind}`, role: 'operator', createdBy: 'test' })).token);
  });
  afterAll(async () => {
    await api?.close();
  });

  async function deadPayment() {
    const order = await seedOrder(api.db);
    const events = journeyEvents('card_success', { orderId: order.id, checkoutSessionId: order.checkout_session_id!, amount: 995, currency: 'usd', startAt: now() });
    const succeeded = events.find((e) => e.type === 'payment_intent.succeeded')!;
    faulty.add(succeeded.id);
    for (const e of events.filter((x) => !x.type.startsWith('invoice.'))) await send(api, e);
    await waitForInbox(api.db);
    return { order, succeeded };
  }

  it('links a dead letter to its order, badges and filters the order, and keeps errors and replays on the timeline', async () => {
    const { order, succeeded } = await deadPayment();
    const dead = await admin.admin.events.list.query({ state: 'dead' });
    expect(dead.items.find((e) => e.eventId === succeeded.id)?.orderId).toBe(order.id);

    const withIncidents = await admin.admin.orders.list.query({ incident: true });
    expect(withIncidents.items.map((o) => o.orderId)).toContain(order.id);
    expect(withIncidents.items.find((o) => o.orderId === order.id)?.incidents).toEqual(['dead']);
    const healthy = await seedOrder(api.db);
    expect(withIncidents.items.map((o) => o.orderId)).not.toContain(healthy.id);
    expect((await admin.admin.orders.list.query({})).items.find((o) => o.orderId === healthy.id)?.incidents).toEqual([]);

    faulty.delete(succeeded.id);
    await admin.admin.events.replay.mutate({ eventId: succeeded.id, reason: 'ledger back up (INC-7)' });
    await waitForInbox(api.db);
    const detail = await admin.admin.orders.get.query({ orderId: order.id });
    expect(detail.order.status).toBe('succeeded');
    const ev = detail.events.find((e) => e.eventId === succeeded.id)!;
    expect(ev.state).toBe('processed');
    expect(ev.errors).toHaveLength(2);
    expect(ev.errors[0]!.error).toContain('ledger service unavailable');
    expect(ev.replays).toEqual([{ actor: expect.stringContaining(`ops-${kind}`), reason: 'ledger back up (INC-7)', at: expect.any(String), bulk: false }]);
    expect((await admin.admin.orders.list.query({ incident: true })).items.map((o) => o.orderId)).not.toContain(order.id);

    // The replayed event waited as a dead letter: that wait is not processing latency.
    await api.db.updateTable('stripe_events').set({ received_at: new Date(Date.now() - 3_600_000) }).where('id', '=', succeeded.id).execute();
    const summary = await admin.admin.metrics.summary.query({ windowHours: 2, bucketMinutes: 60, stuckAfterMinutes: 30 });
    expect(summary.latencyMs.p95 ?? 0).toBeLessThan(60_000);
  });

  it('records the order a failed event names in its error when the event itself does not name it', async () => {
    const order = await seedOrder(api.db);
    const id = `evt_error_names_${kind}_${Date.now()}`;
    await insertEvent(api.db, { id, type: 'charge.updated', object_id: 'ch_unknown', stripe_created: new Date(), payload: JSON.stringify({ id, data: { object: { id: 'ch_unknown' } } }), next_attempt_at: new Date() });
    await settleEvent(api.db, id, { state: 'dead', outcome: 'permanent_error', attempts: 1, lastError: `ledger refused the grant for order ${order.id}` });
    expect((await admin.admin.events.get.query({ eventId: id })).orderId).toBe(order.id);
    const unrelated = `evt_error_unrelated_${kind}_${Date.now()}`;
    await insertEvent(api.db, { id: unrelated, type: 'charge.updated', object_id: 'ch_other', stripe_created: new Date(), payload: JSON.stringify({ id: unrelated, data: { object: { id: 'ch_other' } } }), next_attempt_at: new Date() });
    await settleEvent(api.db, unrelated, { state: 'dead', outcome: 'permanent_error', attempts: 1, lastError: 'no order named here' });
    expect((await admin.admin.events.get.query({ eventId: unrelated })).orderId).toBeNull();
    await api.db.deleteFrom('stripe_events').where('id', 'in', [id, unrelated]).execute();
  });

  it("links a plan's dead renewal events (invoice, subscription) to the order that started it", async () => {
    const order = await seedOrder(api.db, { userId: `user_dead_renewal_${kind}`, productId: 'hobby', mode: 'subscription', amount: 999 });
    const t0 = now() - 40 * 86_400;
    const b = buildLifecycle('renewals', { orderId: order.id, userId: order.user_id, suffix: `dead_${kind}`, t0, checkoutSessionId: order.checkout_session_id!, renewals: 1 });
    const renewal = b.events.filter((e) => e.created > t0 + 86_400);
    for (const e of b.events.filter((e) => e.created <= t0 + 86_400)) await send(api, e);
    await waitForInbox(api.db);
    const failing = renewal.filter((e) => e.type === 'invoice.paid' || e.type === 'customer.subscription.updated');
    expect(failing.map((e) => e.type).sort()).toEqual(['customer.subscription.updated', 'invoice.paid']);
    for (const e of failing) faulty.add(e.id);
    for (const e of renewal) await send(api, e);
    await waitForInbox(api.db);
    const dead = (await admin.admin.events.list.query({ state: 'dead' })).items.filter((e) => failing.some((f) => f.id === e.eventId));
    expect(dead.map((e) => e.orderId)).toEqual([order.id, order.id]);
    const detail = await admin.admin.orders.get.query({ orderId: order.id });
    expect(detail.events.filter((e) => e.state === 'dead').map((e) => e.eventId).sort()).toEqual(failing.map((e) => e.id).sort());
    for (const e of failing) faulty.delete(e.id);
  });

  it('finds orders by any part of an e-mail or id, and by product name; refuses an overlong search', async () => {
    const order = await seedOrder(api.db, { userId: `user_alice_${kind}` });
    await api.db.updateTable('orders').set({ customer_email: `Alice.Smith.${kind}@example.com`, payment_intent_id: `pi_3QsearchX${kind}` }).where('id', '=', order.id).execute();
    const ids = async (search: string) => (await admin.admin.orders.list.query({ search })).items.map((o) => o.orderId);
    expect(await ids(`alice.smith.${kind}`)).toEqual([order.id]);
    expect(await ids(`ALICE_${kind}`)).toEqual([order.id]);
    expect(await ids(`pi_3QsearchX`)).toContain(order.id);
    expect(await ids(order.id.slice(0, 8))).toContain(order.id);
    expect(await ids('10 credits')).toContain(order.id);
    expect(await ids('100%_no_such')).toEqual([]);
    const err = await admin.admin.orders.list.query({ search: 'x'.repeat(5000) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TRPCClientError);
    expect((err as { data?: { code?: string } }).data?.code).toBe('BAD_REQUEST');
  });

  it('separates what needs an operator from what does not, oldest first, and counts only the former as stuck', async () => {
    const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000);
    const processing = await seedOrder(api.db);
    const review = await seedOrder(api.db);
    const abandoned = await seedOrder(api.db);
    const declined = await seedOrder(api.db);
    const fresh = await seedOrder(api.db);
    await api.db.updateTable('orders').set({ status: 'processing', updated_at: hoursAgo(5) }).where('id', '=', processing.id).execute();
    await api.db.updateTable('orders').set({ status: 'needs_review', review_reason: 'amount mismatch', updated_at: hoursAgo(9) }).where('id', '=', review.id).execute();
    await api.db.updateTable('orders').set({ updated_at: hoursAgo(30) }).where('id', '=', abandoned.id).execute();
    await api.db.updateTable('orders').set({ status: 'failed', failure_reason: 'sepa debit failed', updated_at: hoursAgo(3) }).where('id', '=', declined.id).execute();
    await api.db.updateTable('orders').set({ status: 'processing' }).where('id', '=', fresh.id).execute();

    const { items, counts } = await admin.admin.orders.attention.query({});
    const kindOf = (id: string) => items.filter((i) => i.orderId === id).map((i) => [i.kind, i.needs]);
    expect(kindOf(processing.id)).toEqual([['processing_overdue', 'operator']]);
    expect(kindOf(review.id)).toEqual([['needs_review', 'operator']]);
    expect(kindOf(abandoned.id)).toEqual([['abandoned_checkout', 'no_action']]);
    expect(kindOf(declined.id)).toEqual([['customer_failure', 'no_action']]);
    expect(kindOf(fresh.id)).toEqual([]);
    const since = items.map((i) => i.since);
    expect(since).toEqual([...since].sort());
    expect(items.find((i) => i.orderId === review.id)!.stuckForSeconds).toBeGreaterThanOrEqual(9 * 3600 - 5);
    expect(counts.needs_review).toBeGreaterThanOrEqual(1);

    const stuck = (await admin.admin.orders.list.query({ stuckForMinutes: 60, limit: 200 })).items.map((o) => o.orderId);
    expect(stuck).toEqual(expect.arrayContaining([processing.id, review.id]));
    expect(stuck).not.toContain(abandoned.id);
    expect(stuck).not.toContain(declined.id);
  });

  it('lists a duplicate payment until it is refunded in full, and a subscription parked for review, as operator items', async () => {
    const attention = async () => (await admin.admin.orders.attention.query({ limit: 200 })).items;

    // A customer charged twice for one order: the second PaymentIntent succeeds after the first.
    const paid = await seedOrder(api.db);
    const charged = incidentJourneyEvents('duplicate_payment', { orderId: paid.id, checkoutSessionId: paid.checkout_session_id!, amount: 995, currency: 'usd', startAt: now() - 3600 });
    for (const e of charged.filter((x) => !x.type.startsWith('invoice.'))) expect((await send(api, e)).status).toBe(200);
    await waitForInbox(api.db);
    const [duplicate] = (await admin.admin.orders.get.query({ orderId: paid.id })).duplicatePayments;
    expect(duplicate).toBeDefined();
    const dupItem = () => attention().then((items) => items.filter((i) => i.kind === 'duplicate_payment' && i.orderId === paid.id));
    expect(await dupItem()).toEqual([
      expect.objectContaining({
        needs: 'operator', amount: 995, currency: 'usd', status: 'succeeded', subscriptionId: null,
        since: duplicate!.at, detail: expect.stringContaining(`charged again by ${duplicate!.paymentIntentId}`),
      }),
    ]);

    // A price the catalogue does not know: the last known plan is kept and the subscription waits for review.
    const userId = `user_review_${kind}`;
    const plan = await seedOrder(api.db, { userId, productId: 'hobby', mode: 'subscription', amount: 999 });
    const built = buildLifecycle('unknown_price', { orderId: plan.id, userId, suffix: `review_${kind}`, t0: now() - 90 * 86_400, checkoutSessionId: plan.checkout_session_id! });
    for (const e of built.events) {
      expect((await send(api, e)).status).toBe(200);
      await waitForInbox(api.db);
    }
    const subscription = (await admin.admin.subscriptions.get.query({ subscriptionId: built.subscriptionId })).subscription;
    expect(subscription.reviewReason).toContain('is not in the catalogue');
    const { items, counts } = await admin.admin.orders.attention.query({ limit: 200 });
    expect(items.filter((i) => i.subscriptionId === built.subscriptionId)).toEqual([
      expect.objectContaining({ kind: 'subscription_review', needs: 'operator', orderId: plan.id, status: 'active', detail: expect.stringMatching(/^price \S+ is not in the catalogue; plan hobby kept$/) }),
    ]);
    expect(counts.duplicate_payment).toBeGreaterThanOrEqual(1);
    expect(counts.subscription_review).toBeGreaterThanOrEqual(1);
    const since = items.map((i) => i.since);
    expect(since).toEqual([...since].sort());

    // Refunded in part, it still waits; refunded in full, it leaves the view.
    const dupCharge = charged.find((e) => e.type === 'charge.succeeded' && (e.data.object as { payment_intent: string }).payment_intent === duplicate!.paymentIntentId)!.data.object as Record<string, unknown>;
    const refundOf = (amountRefunded: number, at: number) =>
      stripeEvent('charge.refunded', at, { ...dupCharge, amount_refunded: amountRefunded, refunded: amountRefunded >= 995 }, `dupref_${kind}`, { amount_refunded: 0, refunded: false });
    await send(api, refundOf(400, now() - 60));
    await waitForInbox(api.db);
    expect(await dupItem()).toEqual([expect.objectContaining({ detail: expect.stringContaining('400 of 995 refunded') })]);
    await send(api, refundOf(995, now() - 30));
    await waitForInbox(api.db);
    expect((await admin.admin.orders.get.query({ orderId: paid.id })).duplicatePayments[0]!.amountRefunded).toBe(995);
    expect(await dupItem()).toEqual([]);

    // Once canceled, the subscription grants nothing and waits for no one.
    const last = built.events.filter((e) => e.type.startsWith('customer.subscription.')).at(-1)!;
    const sub = last.data.object as Record<string, unknown>;
    await send(api, stripeEvent('customer.subscription.deleted', last.created + 60, { ...sub, status: 'canceled', canceled_at: last.created + 60, ended_at: last.created + 60 }, `review_end_${kind}`));
    await waitForInbox(api.db);
    expect((await admin.admin.subscriptions.get.query({ subscriptionId: built.subscriptionId })).subscription.status).toBe('canceled');
    expect((await attention()).filter((i) => i.subscriptionId === built.subscriptionId)).toEqual([]);
  });

  it('previews what a refund takes back, by the product policy', async () => {
    const order = await seedOrder(api.db);
    const events = journeyEvents('card_success', { orderId: order.id, checkoutSessionId: order.checkout_session_id!, amount: 995, currency: 'usd', startAt: now() });
    for (const e of events.filter((x) => !x.type.startsWith('invoice.'))) await send(api, e);
    await waitForInbox(api.db);
    const half = await admin.admin.orders.refundPreview.query({ orderId: order.id, amount: 500 });
    expect(half).toMatchObject({ full: false, granted: true, partialRefundPolicy: 'proportional', creditsRevoked: 5, grant: { kind: 'credits', credits: 10 } });
    const all = await admin.admin.orders.refundPreview.query({ orderId: order.id, amount: 995 });
    expect(all).toMatchObject({ full: true, creditsRevoked: 10 });
    const unpaid = await seedOrder(api.db);
    expect(await admin.admin.orders.refundPreview.query({ orderId: unpaid.id, amount: 100 })).toMatchObject({ granted: false, creditsRevoked: 0 });
  });
});
