import { TEST_BACKENDS } from '@settle/db/testing';
import { SUBSCRIPTION_PERIOD_S, type StripeSimulator } from '@settle/stripe-simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminClient, send, startApiWithSimulator, trpcClient, userToken, waitForInbox, type TestApi } from './harness.js';

/**
 * The reconciler's stale-subscription check (README, "Selling plans": "The reconciler also asks
 * Stripe about subscriptions whose period ended SUBSCRIPTION_STALE_AFTER_MIN (120) minutes ago
 * without news ... and applies what it finds").
 */
describe.each(TEST_BACKENDS)('the reconciler gives back a plan paid while its webhooks were lost, on %s', (kind) => {
  let api: TestApi;
  let simulator: StripeSimulator;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ api, simulator, close } = await startApiWithSimulator(kind, { UNMATCHED_MAX_ATTEMPTS: '40' }));
  });
  afterAll(async () => {
    await close?.();
  });

  it('an unpaid subscription the customer has since paid (webhooks lost) is asked about and its plan given back', async () => {
    const userId = `user_rp_unpaid_paid_${kind}`;
    const client = trpcClient(api.url, await userToken(userId));
    const { checkoutSessionId } = await client.checkout.create.mutate({ productId: 'hobby' });
    const startAt = Math.floor(Date.now() / 1000) - 4 * SUBSCRIPTION_PERIOD_S;
    await simulator.runJourney('subscription_dunning_unpaid', checkoutSessionId, { startAt });
    await waitForInbox(api.db);
    expect(await client.entitlements.get.query()).toMatchObject({ plan: null, subscriptionStatus: 'unpaid' });
    const subscriptionId = simulator.state.checkoutSessions.get(checkoutSessionId)!.subscription as string;
    const row = await api.db.selectFrom('subscriptions').select(['current_period_end']).where('id', '=', subscriptionId).executeTakeFirstOrThrow();
    // Settle's period ended long ago (well past the 120-minute grace) and nothing has been heard since.
    expect(new Date(row.current_period_end!).getTime()).toBeLessThan(Date.now() - 3 * 3600_000);

    // Meanwhile at Stripe (webhooks lost): the customer paid the open invoice, the subscription is active again.
    const sub = simulator.state.subscriptions.get(subscriptionId)!;
    const now = Math.floor(Date.now() / 1000);
    const latest = sub.latest_invoice as string;
    const inv = simulator.state.invoices.get(latest)!;
    Object.assign(inv, { status: 'paid', amount_paid: inv.amount_due, amount_remaining: 0, status_transitions: { ...(inv.status_transitions as object), paid_at: now - 3600 } });
    const items = sub.items as { data: Record<string, unknown>[] };
    for (const item of items.data) Object.assign(item, { current_period_start: now - 86_400, current_period_end: now + SUBSCRIPTION_PERIOD_S - 86_400 });
    Object.assign(sub, { status: 'active' });

    const r = await api.settle.deps.reconciler.runOnce('test');
    expect(r.errors).toBe(0);
    // Paid at Stripe: the plan must be back.
    expect(await client.entitlements.get.query()).toMatchObject({ plan: 'hobby', subscriptionStatus: 'active' });
  });

  it('a cancellation scheduled before the period end ends the plan there: planPeriodEnd is cancel_at, and a lost deletion is asked about once it has passed', async () => {
    const userId = `user_rp_cancel_at_${kind}`;
    const client = trpcClient(api.url, await userToken(userId));
    const { checkoutSessionId } = await client.checkout.create.mutate({ productId: 'hobby' });
    const now = Math.floor(Date.now() / 1000);
    const startAt = now - 5 * 86_400;
    const run = await simulator.runJourney('subscription_renew', checkoutSessionId, { deliver: false, startAt });
    // Only the start reaches Settle: a month paid, its period ends 25 days from now.
    const start = run.events.filter((e) => e.created <= startAt + 1);
    for (const e of start) expect((await send(api, e)).status).toBe(200);
    await waitForInbox(api.db);
    const subscriptionId = simulator.state.checkoutSessions.get(checkoutSessionId)!.subscription as string;
    const { current_period_end: periodEnd } = await api.db.selectFrom('subscriptions').select('current_period_end').where('id', '=', subscriptionId).executeTakeFirstOrThrow();
    expect(new Date(periodEnd!).getTime()).toBeGreaterThan(Date.now() + 20 * 86_400_000);

    // Two days ago the customer (or the host, through the API) set cancel_at to three hours ago:
    // Stripe ends the subscription there, prorated, well before the period's end.
    const cancelAt = now - 3 * 3600;
    const asked = now - 2 * 86_400;
    const last = [...start].reverse().find((e) => e.type.startsWith('customer.subscription.'))!;
    const scheduled = {
      ...last, id: `evt_rp_cancel_at_${kind}`, type: 'customer.subscription.updated', created: asked,
      data: {
        object: { ...(last.data.object as Record<string, unknown>), status: 'active', cancel_at: cancelAt, cancel_at_period_end: false, canceled_at: asked },
        previous_attributes: { cancel_at: null, canceled_at: null },
      },
    };
    expect((await send(api, scheduled)).status).toBe(200);
    await waitForInbox(api.db);
    // The host is told the plan ends at cancel_at, not at the period's end.
    expect(await client.entitlements.get.query()).toMatchObject({
      plan: 'hobby', subscriptionStatus: 'cancel_at_period_end', planPeriodEnd: new Date(cancelAt * 1000).toISOString(),
    });

    // Stripe ended it at cancel_at; customer.subscription.deleted never reached Settle.
    const sub = simulator.state.subscriptions.get(subscriptionId)!;
    Object.assign(sub, { status: 'canceled', cancel_at: cancelAt, canceled_at: asked, ended_at: cancelAt });
    const r = await api.settle.deps.reconciler.runOnce('test');
    expect(r.errors).toBe(0);
    // Past cancel_at and the grace, the stale check asked Stripe: the plan is gone, not kept until the period's end.
    expect(await client.entitlements.get.query()).toMatchObject({ plan: null, subscriptionStatus: 'canceled' });
  });

  // A renewal's money taken back while its events were lost: the subscription and its latest
  // invoice still look healthy, only the invoice's payment (refunds, disputes) tells.
  const TAKEN_BACK = [
    ['subscription_renewal_dispute_lost', ['charge.dispute.created', 'charge.dispute.updated', 'charge.dispute.closed'], /^dispute dp_\S+ lost$/],
    ['subscription_renewal_refund', ['refund.created', 'charge.refunded', 'refund.updated'], /refunded in full \(\d+ usd\)/],
  ] as const;

  it.each(TAKEN_BACK)('%s with its money events lost: "Reconcile now" reads the renewal\'s payment and takes the plan, once', async (journey, drop, note) => {
    const client = trpcClient(api.url, await userToken(`user_rp_${journey}_${kind}`));
    const { orderId, checkoutSessionId } = await client.checkout.create.mutate({ productId: 'hobby' });
    const startAt = Math.floor(Date.now() / 1000) - 3 * SUBSCRIPTION_PERIOD_S;
    await simulator.runJourney(journey, checkoutSessionId, { startAt, drop: [...drop] });
    await waitForInbox(api.db);
    // Settle heard of the renewal, paid, and nothing since: the plan is still given.
    expect(await client.entitlements.get.query()).toMatchObject({ plan: 'hobby', subscriptionStatus: 'active' });
    const subscriptionId = simulator.state.checkoutSessions.get(checkoutSessionId)!.subscription as string;

    const admin = await adminClient(api, `rp_${journey}`);
    const first = await admin.admin.orders.reconcile.mutate({ orderId, reason: 'renewal money check' });
    expect(first.changed).toBe(true);
    // The money went back: no plan, while Stripe still says the subscription is active.
    expect(await client.entitlements.get.query()).toMatchObject({ plan: null, subscriptionStatus: 'active' });
    const detail = await admin.admin.subscriptions.get.query({ subscriptionId });
    const renewal = detail.invoices.find((i) => i.billingReason === 'subscription_cycle')!;
    expect(detail.history).toContainEqual(expect.objectContaining({ kind: 'payment', invoiceId: renewal.invoiceId, cause: 'reconciler', reason: expect.stringMatching(note) }));

    // Asked again, Stripe says the same: nothing changes, and none is reported (re-reading the
    // subscription a second later moves only its clocks).
    const again = await admin.admin.orders.reconcile.mutate({ orderId, reason: 'renewal money check' });
    expect(again.changed).toBe(false);
    expect(await client.entitlements.get.query()).toMatchObject({ plan: null, subscriptionStatus: 'active' });
    const after = await admin.admin.subscriptions.get.query({ subscriptionId });
    expect(after.history).toEqual(detail.history);
    expect(after.invoices).toEqual(detail.invoices);
  });

  it('the stale-subscription round reads a renewal\'s payment too: a chargeback whose events were lost takes the plan', async () => {
    const client = trpcClient(api.url, await userToken(`user_rp_stale_dispute_${kind}`));
    const { checkoutSessionId } = await client.checkout.create.mutate({ productId: 'hobby' });
    const startAt = Math.floor(Date.now() / 1000) - 3 * SUBSCRIPTION_PERIOD_S;
    await simulator.runJourney('subscription_renewal_dispute_lost', checkoutSessionId, { startAt, drop: [...TAKEN_BACK[0][1]] });
    await waitForInbox(api.db);
    expect(await client.entitlements.get.query()).toMatchObject({ plan: 'hobby', subscriptionStatus: 'active' });
    const subscriptionId = simulator.state.checkoutSessions.get(checkoutSessionId)!.subscription as string;

    const r = await api.settle.deps.reconciler.runOnce('test');
    expect(r.errors).toBe(0);
    expect(await client.entitlements.get.query()).toMatchObject({ plan: null, subscriptionStatus: 'active' });
    const before = await api.db.selectFrom('subscription_history').select('id').where('subscription_id', '=', subscriptionId).execute();
    await api.settle.deps.reconciler.reconcileSubscription(subscriptionId, 'reconciler');
    expect(await api.db.selectFrom('subscription_history').select('id').where('subscription_id', '=', subscriptionId).execute()).toEqual(before);
    expect(await client.entitlements.get.query()).toMatchObject({ plan: null, subscriptionStatus: 'active' });
  });

  it('admin.orders.reconcile of a paid plan order whose webhooks were lost (only checkout.session.completed arrived) confirms it and gives the plan', async () => {
    const userId = `user_rp_lost_hooks_${kind}`;
    const client = trpcClient(api.url, await userToken(userId));
    const { orderId, checkoutSessionId } = await client.checkout.create.mutate({ productId: 'hobby' });
    const run = await simulator.runJourney('subscription_renew', checkoutSessionId, { deliver: false });
    const completed = run.events.filter((e) => e.type === 'checkout.session.completed');
    for (const e of completed) expect((await send(api, e)).status).toBe(200);
    await waitForInbox(api.db);
    const admin = await adminClient(api, 'rp_operator');
    await admin.admin.orders.reconcile.mutate({ orderId, reason: 'customer says they paid' });
    const order = await client.orders.get.query({ orderId });
    // Stripe says the Checkout completed, paid, and the subscription is active with a paid first invoice.
    expect({ status: order.status, ...(await client.entitlements.get.query()) }).toMatchObject({ status: 'succeeded', plan: 'hobby', subscriptionStatus: 'active' });
  });
});
