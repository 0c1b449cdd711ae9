import { TEST_BACKENDS } from '@settle/db/testing';
import { listInvoicesForSubscription } from '@settle/db';
import {
  EXPECTED_SUBSCRIPTION_OUTCOME,
  SUBSCRIPTION_JOURNEYS,
  SUBSCRIPTION_PERIOD_S,
  type StripeSimulator,
} from '@settle/stripe-simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderState, send, startApiWithSimulator, trpcClient, userToken, waitForInbox, type StripeEvent, type TestApi } from './harness.js';

const iso = (s: number) => new Date(s * 1000).toISOString();

describe.each(TEST_BACKENDS)('subscriptions (open-saas plans) through the Stripe simulator on %s', (kind) => {
  let api: TestApi;
  let simulator: StripeSimulator;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ api, simulator, close } = await startApiWithSimulator(kind));
  });
  afterAll(async () => {
    await close?.();
  });

  async function subscribe(userId: string, productId = 'hobby') {
    const client = trpcClient(api.url, await userToken(userId));
    return { client, ...(await client.checkout.create.mutate({ productId })) };
  }

  it('creates a subscription-mode Checkout Session carrying the order on the subscription', async () => {
    const { client, orderId, checkoutSessionId } = await subscribe('sub_meta');
    const session = simulator.state.checkoutSessions.get(checkoutSessionId)!;
    expect(session).toMatchObject({ mode: 'subscription', amount_total: 999, currency: 'usd', metadata: { orderId }, invoice_creation: null });
    const order = await client.orders.get.query({ orderId });
    expect(order).toMatchObject({ mode: 'subscription', status: 'pending', amount: 999, subscription: null });
    await expect(client.checkout.create.mutate({ productId: 'pro', quantity: 2 })).rejects.toMatchObject({ data: { code: 'BAD_REQUEST' } });
  });

  it.each(SUBSCRIPTION_JOURNEYS)('%s ends as expected, with duplicates and shuffled delivery', async (journey) => {
    const userId = `user_${journey}_${kind}`;
    const { client, orderId, checkoutSessionId } = await subscribe(userId, 'pro');
    const startAt = Math.floor(Date.now() / 1000) - 3 * SUBSCRIPTION_PERIOD_S;
    const run = await simulator.runJourney(journey, checkoutSessionId, { duplicates: 0.5, shuffle: true, seed: journey.length, startAt });
    expect(run.deliveries.every((d) => d.ok)).toBe(true);
    await waitForInbox(api.db);
    const expected = EXPECTED_SUBSCRIPTION_OUTCOME[journey];
    const periodEnd = iso(startAt + expected.periodEndAfterPeriods * SUBSCRIPTION_PERIOD_S);

    const order = await client.orders.get.query({ orderId });
    expect(order.status).toBe(expected.orderStatus);
    const subscriptionId = simulator.state.checkoutSessions.get(checkoutSessionId)!.subscription as string;
    expect(order.subscription).toEqual({
      id: subscriptionId,
      plan: 'pro',
      status: expected.subscriptionStatus,
      currentPeriodEnd: periodEnd,
      cancelAtPeriodEnd: journey === 'subscription_cancel',
    });

    // The host app's copy of the order (its newest order.updated) names the same subscription.
    const hostCopy = await api.db.selectFrom('host_deliveries').select('payload').where('coalesce_key', '=', `order:${orderId}`).orderBy('sequence', 'desc').executeTakeFirstOrThrow();
    expect((hostCopy.payload.data.subscription as { id: string } | null)?.id).toBe(subscriptionId);

    const ent = await client.entitlements.get.query();
    expect(ent).toMatchObject(
      expected.entitled
        ? { plan: 'pro', subscriptionStatus: expected.subscriptionStatus, planPeriodEnd: periodEnd }
        : { plan: null, subscriptionStatus: 'canceled', planPeriodEnd: null },
    );

    const invoices = await listInvoicesForSubscription(api.db, subscriptionId);
    expect(invoices).toHaveLength(expected.invoices);
    expect(invoices.filter((i) => i.status === 'paid')).toHaveLength(expected.paidInvoices);
    expect(invoices.every((i) => i.order_id === orderId)).toBe(true);

    // One plan grant, confirmed by the first paid invoice, in the audit trail like a payment.
    const { grants, transitions } = await orderState(api.db, orderId);
    expect(grants).toMatchObject([{ kind: 'plan', plan: 'pro' }]);
    expect(transitions.at(-1)).toMatchObject({ to_status: 'succeeded', cause: 'stripe_event', reason: 'invoice.paid (subscription_create)' });
  });

  it('refuses a second subscription to the same plan while one is open or live, on the server', async () => {
    const userId = `user_twice_${kind}`;
    const first = await subscribe(userId, 'hobby');
    // An unpaid checkout for the plan is under way.
    await expect(first.client.checkout.create.mutate({ productId: 'hobby' })).rejects.toMatchObject({
      data: { code: 'CONFLICT' },
      message: expect.stringContaining('checkout is already under way'),
    });
    await simulator.runJourney('subscription_renew', first.checkoutSessionId);
    await waitForInbox(api.db);
    await expect(first.client.checkout.create.mutate({ productId: 'hobby' })).rejects.toMatchObject({
      data: { code: 'CONFLICT' },
      message: expect.stringContaining('already have a hobby subscription'),
    });
    // Another plan, and payments, are not affected.
    await expect(first.client.checkout.create.mutate({ productId: 'pro' })).resolves.toMatchObject({ orderId: expect.any(String) });
    await expect(first.client.checkout.create.mutate({ productId: 'credits10' })).resolves.toMatchObject({ orderId: expect.any(String) });
  });

  it('lets a user subscribe again once the previous subscription is canceled', async () => {
    const userId = `user_again_${kind}`;
    const first = await subscribe(userId, 'hobby');
    await simulator.runJourney('subscription_cancel', first.checkoutSessionId);
    await waitForInbox(api.db);
    expect(await first.client.entitlements.get.query()).toMatchObject({ plan: null, subscriptionStatus: 'canceled' });
    const second = await subscribe(userId, 'hobby');
    await simulator.runJourney('subscription_renew', second.checkoutSessionId);
    await waitForInbox(api.db);
    expect(await first.client.entitlements.get.query()).toMatchObject({ plan: 'hobby', subscriptionStatus: 'active' });
  });

  it('does not resurrect a canceled subscription with an older update delivered after the deletion', async () => {
    const userId = `user_late_${kind}`;
    const { client, orderId, checkoutSessionId } = await subscribe(userId, 'hobby');
    const run = await simulator.runJourney('subscription_cancel', checkoutSessionId, { deliver: false });
    const byType = (type: string) => run.events.filter((e) => e.type === type);
    const deleted = byType('customer.subscription.deleted');
    const updates = byType('customer.subscription.updated');
    const rest = run.events.filter((e) => !e.type.startsWith('customer.subscription.'));
    // The deletion first, then everything else, the updates (older) last.
    for (const ev of [...deleted, ...rest, ...byType('customer.subscription.created'), ...updates.reverse()] as StripeEvent[]) {
      expect((await send(api, ev)).status).toBe(200);
    }
    await waitForInbox(api.db);
    const order = await client.orders.get.query({ orderId });
    expect(order).toMatchObject({ status: 'succeeded', subscription: { status: 'canceled' } });
    expect(await client.entitlements.get.query()).toMatchObject({ plan: null, subscriptionStatus: 'canceled', planPeriodEnd: null });
    const events = await api.db.selectFrom('stripe_events').select(['type', 'outcome']).where('order_id', '=', orderId).execute();
    expect(events.filter((e) => e.type === 'customer.subscription.updated').map((e) => e.outcome)).toEqual(['stale', 'stale']);
  });

  it('the legacy handler confirms a subscription order on Checkout completion; the plan still follows the subscription', async () => {
    const legacy = await startApiWithSimulator(kind, { HANDLER_MODE: 'legacy' });
    try {
      const client = trpcClient(legacy.api.url, await userToken(`user_legacy_${kind}`));
      const { orderId, checkoutSessionId } = await client.checkout.create.mutate({ productId: 'hobby' });
      await legacy.simulator.runJourney('subscription_cancel', checkoutSessionId, { shuffle: true, seed: 7 });
      await waitForInbox(legacy.api.db);
      const order = await client.orders.get.query({ orderId });
      expect(order).toMatchObject({ handler: 'legacy', status: 'succeeded', subscription: { status: 'canceled' } });
      const { transitions } = await orderState(legacy.api.db, orderId);
      expect(transitions.at(-1)).toMatchObject({ to_status: 'succeeded', reason: 'checkout.session.completed' });
      expect(await client.entitlements.get.query()).toMatchObject({ plan: null, subscriptionStatus: 'canceled' });
    } finally {
      await legacy.close();
    }
  });
});
