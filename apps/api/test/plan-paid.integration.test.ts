import { TEST_BACKENDS } from '@settle/db/testing';
import { buildLifecycle, PERIOD_S } from '@settle/payments-core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminClient, seedOrder, send, startApi, trpcClient, userToken, waitForInbox, type TestApi } from './harness.js';

const T0 = Math.floor(Date.now() / 1000) - 90 * 86_400;
type Ev = { id: string; type: string; created: number; data: { object: Record<string, unknown> } } & Record<string, unknown>;

describe.each(TEST_BACKENDS)('plans paid for are never withheld, on %s', (kind) => {
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

  async function setup(productId = 'hobby', renewals = 1) {
    const suffix = `rp_${++n}_${Date.now()}`;
    const userId = `user_${suffix}`;
    const order = await seedOrder(api.db, { userId, productId, mode: 'subscription', amount: productId === 'pro' ? 1999 : 999 });
    const b = buildLifecycle('renewals', { orderId: order.id, userId, suffix, t0: T0, checkoutSessionId: order.checkout_session_id!, renewals });
    const events = b.events as unknown as Ev[];
    const lastSub = () => [...events].reverse().find((e) => e.type.startsWith('customer.subscription.'))!;
    let seq = 1000;
    const ev = (type: string, created: number, object: Record<string, unknown>): Ev =>
      ({ ...lastSub(), id: `evt_${suffix}_x${++seq}`, type, created, data: { object } }) as Ev;
    const sub = (patch: Record<string, unknown>) => ({ ...(lastSub().data.object as Record<string, unknown>), ...patch });
    const client = trpcClient(api.url, await userToken(userId));
    return { order, b, events, ev, sub, client, suffix, userId };
  }

  it('a first invoice paid in full, partly from the customer credit balance, confirms the order and gives the plan', async () => {
    const { events, client, order } = await setup('hobby', 1);
    const firstRenewal = events.findIndex((e) => e.type === 'invoice.finalized' && e.created > T0 + 86_400);
    const start = events.slice(0, firstRenewal).map((e) => {
      if (!e.type.startsWith('invoice.')) return e;
      const inv = e.data.object as Record<string, unknown>;
      if (inv.billing_reason !== 'subscription_create') return e;
      const paid = inv.status === 'paid';
      return { ...e, data: { object: { ...inv, total: 999, subtotal: 999, starting_balance: -500, ending_balance: 0, amount_due: 499, amount_paid: paid ? 499 : 0, amount_remaining: paid ? 0 : 499 } } };
    });
    await deliver(start);
    const o = await api.db.selectFrom('orders').select('status').where('id', '=', order.id).executeTakeFirstOrThrow();
    expect({ order: o.status, ...(await client.entitlements.get.query()) }).toMatchObject({ order: 'succeeded', plan: 'hobby', subscriptionStatus: 'active' });
  });
  it('a first invoice paid wholly from the credit balance reads active, not trialing, with no subscription events', async () => {
    const { events, client, order, b } = await setup('hobby', 1);
    const firstRenewal = events.findIndex((e) => e.type === 'invoice.finalized' && e.created > T0 + 86_400);
    // Nothing charged: no PaymentIntent, and the subscription's own events are not subscribed to.
    const charged = ['customer.subscription.', 'payment_intent.', 'invoice_payment.', 'charge.'];
    const start = events.slice(0, firstRenewal).filter((e) => !charged.some((p) => e.type.startsWith(p))).map((e) => {
      if (!e.type.startsWith('invoice.')) return e;
      const inv = e.data.object as Record<string, unknown>;
      return { ...e, data: { object: { ...inv, total: 999, subtotal: 999, starting_balance: -999, ending_balance: 0, amount_due: 0, amount_paid: 0, amount_remaining: 0 } } };
    });
    await deliver(start);
    const o = await api.db.selectFrom('orders').select('status').where('id', '=', order.id).executeTakeFirstOrThrow();
    expect({ order: o.status, ...(await client.entitlements.get.query()) }).toMatchObject({ order: 'succeeded', plan: 'hobby', subscriptionStatus: 'active' });
    const sub = await api.db.selectFrom('subscriptions').select(['status', 'trial_end']).where('id', '=', b.subscriptionId).executeTakeFirstOrThrow();
    expect(sub).toEqual({ status: 'active', trial_end: null });
  });

  it.each(['invoice first', 'subscription first'])('a first period free by coupon reads active, not trialing, %s', async (order) => {
    const suffix = `free_${++n}_${Date.now()}`;
    const userId = `user_${suffix}`;
    const o = await seedOrder(api.db, { userId, productId: 'hobby', mode: 'subscription', amount: 999 });
    const b = buildLifecycle('free_first_period', { orderId: o.id, userId, suffix, t0: T0, checkoutSessionId: o.checkout_session_id! });
    // Stripe's order: the subscription (active) a second before its $0 invoice; delivered either way.
    const stripeOrder = [...b.events].sort((x, y) => x.created - y.created);
    await deliver(order === 'invoice first' ? [...stripeOrder].reverse() : stripeOrder);
    const client = trpcClient(api.url, await userToken(userId));
    expect(await client.entitlements.get.query()).toMatchObject({ plan: 'hobby', subscriptionStatus: 'active' });
    const sub = await api.db.selectFrom('subscriptions').select(['status', 'trial_end', 'status_inferred']).where('id', '=', b.subscriptionId).executeTakeFirstOrThrow();
    expect(sub).toEqual({ status: 'active', trial_end: null, status_inferred: false });
    const paid = await api.db.selectFrom('orders').select('status').where('id', '=', o.id).executeTakeFirstOrThrow();
    expect(paid.status).toBe('succeeded');
  });

  it('a trial delivered invoice first reads trialing, with Stripe\'s trial end', async () => {
    const suffix = `trial_${++n}_${Date.now()}`;
    const userId = `user_${suffix}`;
    const o = await seedOrder(api.db, { userId, productId: 'hobby', mode: 'subscription', amount: 999 });
    const b = buildLifecycle('trial_active', { orderId: o.id, userId, suffix, t0: T0, checkoutSessionId: o.checkout_session_id! });
    const start = b.events.filter((e) => e.created <= T0 + 1);
    await deliver([...start.filter((e) => e.type.startsWith('invoice.')), ...start.filter((e) => !e.type.startsWith('invoice.'))]);
    const client = trpcClient(api.url, await userToken(userId));
    expect(await client.entitlements.get.query()).toMatchObject({ plan: 'hobby', subscriptionStatus: 'trialing' });
    const sub = await api.db.selectFrom('subscriptions').select(['status', 'trial_end', 'status_inferred']).where('id', '=', b.subscriptionId).executeTakeFirstOrThrow();
    expect({ ...sub, trial_end: sub.trial_end?.getTime() }).toEqual({ status: 'trialing', trial_end: (T0 + PERIOD_S) * 1000, status_inferred: false });
  });

  it('a user paying for pro keeps pro while a free hobby trial that ended unpaid is in dunning', async () => {
    const suffix = `dun_${++n}_${Date.now()}`;
    const userId = `user_${suffix}`;
    const pro = await seedOrder(api.db, { userId, productId: 'pro', mode: 'subscription', amount: 1999 });
    const p = buildLifecycle('renewals', { orderId: pro.id, userId, suffix: `p_${suffix}`, t0: T0, checkoutSessionId: pro.checkout_session_id!, renewals: 2,
      prices: { from: { id: 'price_pro_monthly', amount: 1999 }, to: { id: 'price_hobby_monthly', amount: 999 } } }, { from: 'pro', to: 'hobby' });
    await deliver(p.events);
    const hobby = await seedOrder(api.db, { userId, productId: 'hobby', mode: 'subscription', amount: 999 });
    // A 30-day trial from day 50: it ends on day 80, its first charge fails and Stripe retries (past due).
    const h = buildLifecycle('trial_canceled', { orderId: hobby.id, userId, suffix: `h_${suffix}`, t0: T0 + 50 * 86_400, checkoutSessionId: hobby.checkout_session_id! });
    await deliver(h.events.filter((e) => e.type !== 'customer.subscription.deleted'));
    const client = trpcClient(api.url, await userToken(userId));
    const hobbySub = await api.db.selectFrom('subscriptions').select('status').where('id', '=', h.subscriptionId).executeTakeFirstOrThrow();
    expect(hobbySub.status).toBe('past_due');
    expect(await client.entitlements.get.query()).toMatchObject({ plan: 'pro', subscriptionStatus: 'active' });
  });

  it('a user paying for pro who then starts a free hobby trial keeps pro', async () => {
    const suffix = `two_${++n}_${Date.now()}`;
    const userId = `user_${suffix}`;
    const pro = await seedOrder(api.db, { userId, productId: 'pro', mode: 'subscription', amount: 1999 });
    const p = buildLifecycle('renewals', { orderId: pro.id, userId, suffix: `p_${suffix}`, t0: T0, checkoutSessionId: pro.checkout_session_id!, renewals: 2,
      prices: { from: { id: 'price_pro_monthly', amount: 1999 }, to: { id: 'price_hobby_monthly', amount: 999 } } }, { from: 'pro', to: 'hobby' });
    await deliver(p.events);
    const client = trpcClient(api.url, await userToken(userId));
    expect(await client.entitlements.get.query()).toMatchObject({ plan: 'pro', subscriptionStatus: 'active' });
    const hobby = await seedOrder(api.db, { userId, productId: 'hobby', mode: 'subscription', amount: 999 });
    const h = buildLifecycle('trial_active', { orderId: hobby.id, userId, suffix: `h_${suffix}`, t0: T0 + 70 * 86_400, checkoutSessionId: hobby.checkout_session_id! });
    // Only the trial's start: nothing paid for hobby yet.
    const trialStart = h.events.filter((e) => e.created <= T0 + 70 * 86_400 + 1);
    await deliver(trialStart);
    expect(await client.entitlements.get.query()).toMatchObject({ plan: 'pro', subscriptionStatus: 'active' });
    // The customer cancels the trial so as not to be charged: Stripe says trialing, cancel at period end. Still nothing paid for hobby.
    const created = trialStart.find((e) => e.type === 'customer.subscription.created')!;
    const asked = T0 + 71 * 86_400;
    const admin = await adminClient(api, `mrr-${suffix}`, 'viewer');
    const hobbyMrr = async () => (await admin.admin.subscriptions.summary.query()).mrrByPlan.find((m) => m.plan === 'hobby') ?? null;
    const mrrBefore = await hobbyMrr();
    await deliver([{ ...created, id: `evt_h_${suffix}_cancel`, type: 'customer.subscription.updated', created: asked,
      data: { object: { ...(created.data.object as Record<string, unknown>), cancel_at_period_end: true, cancel_at: T0 + 70 * 86_400 + PERIOD_S, canceled_at: asked } } }]);
    expect(await client.entitlements.get.query()).toMatchObject({ plan: 'pro', subscriptionStatus: 'active' });
    // Nor is the trial recurring revenue on the Overview.
    expect(await hobbyMrr()).toEqual(mrrBefore);
  });
});
