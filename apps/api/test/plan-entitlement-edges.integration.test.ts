import { TEST_BACKENDS } from '@settle/db/testing';
import { buildLifecycle, PERIOD_S } from '@settle/payments-core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminClient, seedOrder, send, startApi, trpcClient, userToken, waitForInbox, type TestApi } from './harness.js';

const T0 = Math.floor(Date.now() / 1000) - 90 * 86_400;

/** `entitlements.get` where a user's subscriptions disagree: two plans at once, an order parked, a first payment failed. */
describe.each(TEST_BACKENDS)('plan entitlement edge cases on %s', (kind) => {
  let api: TestApi;
  let n = 0;
  beforeAll(async () => {
    api = await startApi(kind, { UNMATCHED_MAX_ATTEMPTS: '40' });
  });
  afterAll(async () => {
    await api?.close();
  });

  async function deliver(events: unknown[]) {
    for (const e of events) expect((await send(api, e)).status).toBe(200);
    await waitForInbox(api.db);
  }

  it('a user paying for hobby and pro keeps pro (bought last) when the hobby subscription renews', async () => {
    const userId = `user_two_${kind}_${++n}`;
    const hobby = await seedOrder(api.db, { userId, productId: 'hobby', mode: 'subscription', amount: 999 });
    const h = buildLifecycle('renewals', { orderId: hobby.id, userId, suffix: `h_${kind}_${n}`, t0: T0, checkoutSessionId: hobby.checkout_session_id!, renewals: 1 });
    // Checkout allows a second subscription to another plan: pro, bought five days later.
    const pro = await seedOrder(api.db, { userId, productId: 'pro', mode: 'subscription', amount: 1999 });
    const p = buildLifecycle(
      'renewals',
      {
        orderId: pro.id,
        userId,
        suffix: `p_${kind}_${n}`,
        t0: T0 + 5 * 86_400,
        checkoutSessionId: pro.checkout_session_id!,
        renewals: 1,
        prices: { from: { id: 'price_pro_monthly', amount: 1999 }, to: { id: 'price_hobby_monthly', amount: 999 } },
      },
      { from: 'pro', to: 'hobby' },
    );
    const all = [...h.events, ...p.events].sort((a, b) => a.created - b.created);
    const client = trpcClient(api.url, await userToken(userId));
    await deliver(all.filter((e) => e.created <= T0 + 6 * 86_400));
    expect(await client.entitlements.get.query()).toMatchObject({ plan: 'pro', subscriptionStatus: 'active' });
    // Hobby renews at T0 + 30 days; pro is active and paid until T0 + 35 days.
    await deliver(all.filter((e) => e.created > T0 + 6 * 86_400 && e.created <= T0 + PERIOD_S + 120));
    expect(await client.entitlements.get.query()).toMatchObject({ plan: 'pro', subscriptionStatus: 'active' });
  });

  it('a paid plan order parked for review still loses its plan when Stripe cancels the subscription', async () => {
    const userId = `user_nr_${kind}_${++n}`;
    const o = await seedOrder(api.db, { userId, productId: 'hobby', mode: 'subscription', amount: 999 });
    const b = buildLifecycle('cancel', { orderId: o.id, userId, suffix: `nr_${kind}_${n}`, t0: T0, checkoutSessionId: o.checkout_session_id! });
    const deleted = b.events.findIndex((e) => e.type === 'customer.subscription.deleted');
    await deliver(b.events.slice(0, deleted));
    const client = trpcClient(api.url, await userToken(userId));
    expect(await client.entitlements.get.query()).toMatchObject({ plan: 'hobby', subscriptionStatus: 'cancel_at_period_end' });
    const admin = await adminClient(api, `op_${kind}_${n}`);
    await admin.admin.orders.override.mutate({ orderId: o.id, to: 'needs_review', reason: 'checking with the customer' });
    await deliver(b.events.slice(deleted));
    const sub = await api.db.selectFrom('subscriptions').select('status').where('id', '=', b.subscriptionId).executeTakeFirstOrThrow();
    expect(sub.status).toBe('canceled');
    expect(await client.entitlements.get.query()).toMatchObject({ plan: null, subscriptionStatus: 'canceled', planPeriodEnd: null });
  });

  it('the console reports an active plan as not granted once an operator parks its order or overrides it to refunded, as the entitlement does', async () => {
    const userId = `user_ovr_${kind}_${++n}`;
    const o = await seedOrder(api.db, { userId, productId: 'hobby', mode: 'subscription', amount: 999 });
    const b = buildLifecycle('renewals', { orderId: o.id, userId, suffix: `ovr_${kind}_${n}`, t0: T0, checkoutSessionId: o.checkout_session_id!, renewals: 1 });
    await deliver(b.events);
    const client = trpcClient(api.url, await userToken(userId));
    const operator = await adminClient(api, `op_ovr_${kind}_${n}`);
    const viewer = await adminClient(api, `viewer_ovr_${kind}_${n}`, 'viewer');
    /** What every admin door says about the subscription: the list, its page, and its plan order's page. */
    const consoleSays = async () => {
      const listed = (await viewer.admin.subscriptions.list.query({ userId })).items;
      const { subscription } = await viewer.admin.subscriptions.get.query({ subscriptionId: b.subscriptionId });
      const ofOrder = (await viewer.admin.orders.get.query({ orderId: o.id })).subscription;
      expect(listed).toHaveLength(1);
      expect(listed[0]).toEqual(subscription);
      expect(ofOrder).toEqual(subscription);
      return subscription;
    };
    expect(await client.entitlements.get.query()).toMatchObject({ plan: 'hobby', subscriptionStatus: 'active' });
    expect(await consoleSays()).toMatchObject({ status: 'active', plan: 'hobby', grantsPlan: true, moneyTakenBack: false, orderConfirmed: true, orderStatus: 'succeeded' });

    await operator.admin.orders.override.mutate({ orderId: o.id, to: 'needs_review', reason: 'customer says the card was stolen' });
    expect(await client.entitlements.get.query()).toMatchObject({ plan: null, subscriptionStatus: 'active' });
    expect(await consoleSays()).toMatchObject({ status: 'active', grantsPlan: false, moneyTakenBack: false, orderConfirmed: false, orderStatus: 'needs_review' });

    await operator.admin.orders.override.mutate({ orderId: o.id, to: 'refunded', reason: 'refunded by hand in the Stripe dashboard' });
    expect(await client.entitlements.get.query()).toMatchObject({ plan: null, subscriptionStatus: 'active' });
    expect(await consoleSays()).toMatchObject({ status: 'active', grantsPlan: false, moneyTakenBack: true, orderStatus: 'refunded' });
  });

  it('a subscription whose first payment failed is reported as incomplete, not as no subscription', async () => {
    const userId = `user_inc_${kind}_${++n}`;
    const o = await seedOrder(api.db, { userId, productId: 'hobby', mode: 'subscription', amount: 999 });
    const b = buildLifecycle('renewals', { orderId: o.id, userId, suffix: `inc_${kind}_${n}`, t0: T0, checkoutSessionId: o.checkout_session_id!, renewals: 1 });
    const created = b.events.find((e) => e.type === 'customer.subscription.created')!;
    const finalized = b.events.find((e) => e.type === 'invoice.finalized')!;
    const failed = { ...finalized, id: `${finalized.id}_failed`, type: 'invoice.payment_failed', data: { object: { ...(finalized.data.object as object), attempt_count: 1 } } };
    await deliver([created, finalized, failed]);
    const sub = await api.db.selectFrom('subscriptions').select('status').where('id', '=', b.subscriptionId).executeTakeFirstOrThrow();
    expect(sub.status).toBe('incomplete');
    const client = trpcClient(api.url, await userToken(userId));
    expect(await client.entitlements.get.query()).toMatchObject({ plan: null, subscriptionStatus: 'incomplete' });
  });
});
