import { randomUUID } from 'node:crypto';
import { insertEvents, sql, type NewStripeEvent } from '@settle/db';
import { TEST_BACKENDS } from '@settle/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedOrder, startApi, type TestApi } from './harness.js';

const stripeId = (prefix: string) => `${prefix}_${randomUUID().replaceAll('-', '')}`;

/** A stored v1 event about `object` (its id is the row's `object_id`). */
function storedEvent(type: string, object: { id: string } & Record<string, unknown>, created: number): NewStripeEvent {
  const id = stripeId('evt');
  const event = { id, object: 'event', type, created, api_version: '2025-03-31.basil', livemode: false, data: { object } };
  return { id, type, object_id: object.id, stripe_created: new Date(created * 1000), api_version: event.api_version, livemode: false, payload: JSON.stringify(event) };
}

const succeeded = (orderId: string, created: number) =>
  storedEvent('payment_intent.succeeded', { id: stripeId('pi'), object: 'payment_intent', amount: 995, amount_received: 995, currency: 'usd', status: 'succeeded', metadata: { orderId } }, created);

describe.each(TEST_BACKENDS)('the reconciler requeues unmatched events once their order exists, on %s', (kind) => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi(kind, { RECONCILE_INTERVAL_MS: '0', WORKER_CONCURRENCY: '0' });
  });
  afterAll(async () => {
    await api?.close();
  });

  /** Park every stored event as unmatched after its retries, received at `receivedAt` (SQL). */
  async function park(ids: string[], receivedAt: 'older' | 'newer') {
    const at = receivedAt === 'older' ? sql`now() - interval '1 hour'` : sql`now()`;
    await sql`update stripe_events set state = 'unmatched', outcome = 'unmatched', attempts = 8, received_at = ${at} where id in (${sql.join(ids)})`.execute(api.db);
  }

  async function states(ids: string[]) {
    const rows = await api.db.selectFrom('stripe_events').select(['id', 'state']).where('id', 'in', ids).execute();
    return Object.fromEntries(rows.map((r) => [r.id, r.state]));
  }

  it('even when 200 older unmatched events name orders that never appear', async () => {
    await sql`delete from stripe_events`.execute(api.db);
    const now = Math.floor(Date.now() / 1000);
    const orphans = Array.from({ length: 200 }, (_, i) => succeeded(randomUUID(), now - 3600 + i));
    await insertEvents(api.db, orphans);
    const order = await seedOrder(api.db);
    const mine = succeeded(order.id, now);
    await insertEvents(api.db, [mine]);
    await park(orphans.map((o) => o.id), 'older');
    await park([mine.id], 'newer');

    const { requeuedEvents } = await api.settle.deps.reconciler.runOnce('test');
    const row = await api.db.selectFrom('stripe_events').select('state').where('id', '=', mine.id).executeTakeFirstOrThrow();
    expect({ requeuedEvents, state: row.state }).toEqual({ requeuedEvents: 1, state: 'pending' });
  });

  it('behind pages of orphans received at the same instant, by each way an event finds its order', async () => {
    await sql`delete from stripe_events`.execute(api.db);
    const now = Math.floor(Date.now() / 1000);
    // More orphans than a page, all received in one statement (one `received_at`): no page may be lost or read twice.
    const orphans = Array.from({ length: 1234 }, (_, i) => succeeded(randomUUID(), now - 7200 + i));
    await insertEvents(api.db, orphans);
    await park(orphans.map((o) => o.id), 'older');

    const byMetadata = await seedOrder(api.db);
    const byPaymentIntent = await seedOrder(api.db);
    const paymentIntentId = stripeId('pi');
    await api.db.updateTable('orders').set({ payment_intent_id: paymentIntentId }).where('id', '=', byPaymentIntent.id).execute();
    const bySubscription = await seedOrder(api.db, { mode: 'subscription' });
    const subscriptionId = stripeId('sub');
    await api.db.insertInto('subscriptions').values({
      id: subscriptionId, user_id: bySubscription.user_id, order_id: bySubscription.id, product_id: bySubscription.product_id,
      stripe_status: 'active', status: 'active', status_stripe_at: new Date(),
    }).execute();
    const invoiceId = stripeId('in');
    await api.db.insertInto('subscription_payments').values({
      invoice_id: invoiceId, subscription_id: subscriptionId, status: 'paid', amount_due: 995, amount_paid: 995, amount_refunded: 0, attempt_count: 1, currency: 'usd', stripe_created: new Date(),
    }).execute();
    const byDuplicate = await seedOrder(api.db);
    const duplicateIntentId = stripeId('pi');
    await api.db.insertInto('duplicate_payments').values({ payment_intent_id: duplicateIntentId, order_id: byDuplicate.id, amount: 995, currency: 'usd', paid_at: new Date() }).execute();
    const byThinSnapshot = await seedOrder(api.db);

    const matchable = {
      metadata: succeeded(byMetadata.id, now),
      paymentIntent: storedEvent('charge.refunded', { id: stripeId('ch'), object: 'charge', payment_intent: paymentIntentId, amount: 995, amount_refunded: 995, currency: 'usd' }, now),
      subscription: storedEvent('customer.subscription.updated', { id: subscriptionId, object: 'subscription', status: 'active', metadata: {} }, now),
      // Names only an invoice, which Settle recorded as a payment of that subscription.
      invoice: storedEvent('invoice_payment.paid', { id: stripeId('inpay'), object: 'invoice_payment', invoice: invoiceId, status: 'paid', payment: { type: 'charge', charge: stripeId('ch') } }, now),
      duplicatePayment: storedEvent('charge.refunded', { id: stripeId('ch'), object: 'charge', payment_intent: duplicateIntentId, amount: 995, amount_refunded: 995, currency: 'usd' }, now),
      // A thin notification's references are only in its recorded error (from the snapshot Stripe served).
      thin: { ...storedEvent('v1.checkout.session.completed', { id: byThinSnapshot.checkout_session_id! }, now), payload: JSON.stringify({ id: stripeId('evt'), object: 'v2.core.event', type: 'v1.checkout.session.completed' }) },
    };
    const stillOrphan = succeeded(randomUUID(), now);
    await insertEvents(api.db, [...Object.values(matchable), stillOrphan]);
    await park([...Object.values(matchable), stillOrphan].map((e) => e.id), 'newer');
    const ref = { orderId: null, checkoutSessionId: byThinSnapshot.checkout_session_id, paymentIntentId: null, subscriptionId: null, invoiceId: null };
    await api.db.updateTable('stripe_events').set({ last_error: `no order matches ${JSON.stringify(ref)}` }).where('id', '=', matchable.thin.id).execute();

    const { requeuedEvents } = await api.settle.deps.reconciler.runOnce('test');
    const ids = Object.values(matchable).map((e) => e.id);
    expect({ requeuedEvents, states: await states([...ids, stillOrphan.id]) }).toEqual({
      requeuedEvents: ids.length,
      states: { ...Object.fromEntries(ids.map((id) => [id, 'pending'])), [stillOrphan.id]: 'unmatched' },
    });
    const orphanStates = await api.db.selectFrom('stripe_events').select((eb) => eb.fn.countAll<string>().as('n')).where('id', 'in', orphans.map((o) => o.id)).where('state', '=', 'unmatched').executeTakeFirstOrThrow();
    expect(Number(orphanStates.n)).toBe(orphans.length);
  });
});
