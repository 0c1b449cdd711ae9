import { createAdminToken } from '@settle/db';
import { TEST_BACKENDS } from '@settle/db/testing';
import { SUBSCRIPTION_LIFECYCLE_JOURNEYS, SUBSCRIPTION_PERIOD_S, type StripeSimulator } from '@settle/stripe-simulator';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_PRODUCTS } from '../src/payments/product-catalogue.js';
import { send, startApiWithSimulator, trpcClient, userToken, waitForInbox, type TestApi } from './harness.js';

type Journey = (typeof SUBSCRIPTION_LIFECYCLE_JOURNEYS)[number];

/** What Settle must end with after each of the simulator's plan lifecycles (Stripe's own end is the simulator's). */
const SETTLE_OUTCOME: Record<Journey, { product: string; target?: string; subscriptionStatus: string; plan: string | null }> = {
  subscription_trial_active: { product: 'hobby', subscriptionStatus: 'active', plan: 'hobby' },
  subscription_trial_canceled: { product: 'hobby', subscriptionStatus: 'canceled', plan: null },
  subscription_trial_paused: { product: 'hobby', subscriptionStatus: 'paused', plan: null },
  subscription_dunning_unpaid: { product: 'hobby', subscriptionStatus: 'unpaid', plan: null },
  subscription_upgrade: { product: 'hobby', target: 'price_pro_monthly', subscriptionStatus: 'active', plan: 'pro' },
  subscription_downgrade: { product: 'pro', target: 'price_hobby_monthly', subscriptionStatus: 'active', plan: 'hobby' },
  subscription_renewal_refund: { product: 'hobby', subscriptionStatus: 'active', plan: null },
  subscription_renewal_refund_failed: { product: 'hobby', subscriptionStatus: 'active', plan: 'hobby' },
  subscription_renewal_dispute_lost: { product: 'hobby', subscriptionStatus: 'active', plan: null },
  subscription_free_first_invoice: { product: 'hobby', subscriptionStatus: 'active', plan: 'hobby' },
};

/** Subscriptions where Settle has to ask Stripe (the offline simulator, through the SDK), and the simulator's plan lifecycles. */
describe.each(TEST_BACKENDS)('subscriptions and the Stripe API on %s', (kind) => {
  let api: TestApi;
  let simulator: StripeSimulator;
  let close: () => Promise<void>;
  let admin: ReturnType<typeof trpcClient>;
  beforeAll(async () => {
    // Events that wait for another (a link before its invoice) get enough retries for the simulator's whole delivery.
    ({ api, simulator, close } = await startApiWithSimulator(kind, { UNMATCHED_MAX_ATTEMPTS: '40' }));
    admin = trpcClient(api.url, (await createAdminToken(api.db, { name: `sub-stripe-${kind}`, role: 'viewer', createdBy: 'test' })).token);
  });
  afterAll(async () => {
    await close?.();
  });

  it('the reconciler asks Stripe about a stale subscription and its latest invoice, and applies what it finds', async () => {
    const userId = `user_stale_${kind}`;
    const client = trpcClient(api.url, await userToken(userId));
    const { checkoutSessionId } = await client.checkout.create.mutate({ productId: 'hobby' });
    const startAt = Math.floor(Date.now() / 1000) - 3 * SUBSCRIPTION_PERIOD_S;
    const run = await simulator.runJourney('subscription_past_due', checkoutSessionId, { deliver: false, startAt });
    // Settle hears of the start only: the renewal, its failure and the past-due status never reach it.
    for (const e of run.events.filter((x) => x.created <= startAt + 1)) expect((await send(api, e)).status).toBe(200);
    await waitForInbox(api.db);
    expect(await client.entitlements.get.query()).toMatchObject({ plan: 'hobby', subscriptionStatus: 'active' });
    const subscriptionId = simulator.state.checkoutSessions.get(checkoutSessionId)!.subscription as string;

    const r = await api.settle.deps.reconciler.runOnce('test');
    expect(r.errors).toBe(0);
    expect(r.disagreements).toBeGreaterThanOrEqual(1);
    expect(await client.entitlements.get.query()).toMatchObject({ plan: 'hobby', subscriptionStatus: 'past_due' });
    const detail = await admin.admin.subscriptions.get.query({ subscriptionId });
    expect(detail.history).toContainEqual(expect.objectContaining({ kind: 'status', fromStatus: 'active', toStatus: 'past_due', cause: 'reconciler', actor: 'reconciler' }));
    expect(detail.invoices.map((i) => [i.billingReason, i.status, i.attemptCount])).toEqual([['subscription_create', 'paid', 1], ['subscription_cycle', 'open', 1]]);
    expect(detail.subscription.dunning).toMatchObject({ attempts: 1 });

    // Asked again within the stale window: not asked again (the claim is stamped).
    const again = await api.settle.deps.reconciler.runOnce('test');
    expect(again.disagreements).toBe(0);
  });

  it.each(SUBSCRIPTION_LIFECYCLE_JOURNEYS)('%s through the simulator, with duplicates and shuffled delivery, ends as expected', async (journey) => {
    const expected = SETTLE_OUTCOME[journey];
    const userId = `user_${journey}_${kind}`;
    const client = trpcClient(api.url, await userToken(userId));
    const { orderId, checkoutSessionId } = await client.checkout.create.mutate({ productId: expected.product });
    const startAt = Math.floor(Date.now() / 1000) - 3 * SUBSCRIPTION_PERIOD_S;
    const run = await simulator.runJourney(journey, checkoutSessionId, {
      duplicates: 0.3, shuffle: true, seed: journey.length, startAt, ...(expected.target ? { targetPriceId: expected.target } : {}),
    });
    expect(run.deliveries.every((d) => d.ok)).toBe(true);
    await waitForInbox(api.db);
    expect(await client.entitlements.get.query()).toMatchObject({ plan: expected.plan, subscriptionStatus: expected.subscriptionStatus });
    const order = await client.orders.get.query({ orderId });
    expect(order).toMatchObject({ status: 'succeeded', reviewReason: null });
    const dead = await api.db.selectFrom('stripe_events').select(['type', 'state', 'last_error']).where('id', 'in', run.events.map((e) => e.id)).where('state', 'not in', ['processed', 'ignored']).execute();
    expect(dead).toEqual([]);
  });

  it('a plan with an add-on item listed before it (seats, support: prices not in the catalogue) gives the plan, follows its upgrade, and asks for no review', async () => {
    const client = trpcClient(api.url, await userToken(`user_addon_${kind}`));
    const { orderId, checkoutSessionId } = await client.checkout.create.mutate({ productId: 'hobby' });
    const startAt = Math.floor(Date.now() / 1000) - 3 * SUBSCRIPTION_PERIOD_S;
    const run = await simulator.runJourney('subscription_upgrade', checkoutSessionId, { deliver: false, startAt, targetPriceId: 'price_pro_monthly' });
    type Item = { id: string; amount?: number; period?: { end?: number }; price?: { id: string } | string; plan?: { id: string }; pricing?: { price_details?: { price: string } } };
    const seats = (item: Item): Item => ({
      ...structuredClone(item),
      id: `${item.id}_seats`,
      ...(item.price ? { price: { ...(typeof item.price === 'object' ? item.price : {}), id: 'price_seats' } } : {}),
      ...(item.plan ? { plan: { ...item.plan, id: 'price_seats' } } : {}),
      ...(item.pricing?.price_details ? { pricing: { ...item.pricing, price_details: { ...item.pricing.price_details, price: 'price_seats' } } } : {}),
    });
    let withAddOn = 0;
    for (const e of run.events) {
      const o = structuredClone(e.data.object) as { object?: string; items?: { data: Item[] }; lines?: { data: Item[] } };
      if (o.object === 'subscription' && o.items?.data.length) o.items.data.unshift(seats(o.items.data[0]!));
      if (o.object === 'invoice' && o.lines?.data.length) {
        // Beside the line that bills the newest period.
        const newest = o.lines.data.filter((l) => (l.amount ?? 0) >= 0).sort((a, b) => (b.period?.end ?? 0) - (a.period?.end ?? 0))[0];
        if (newest) o.lines.data.unshift({ ...seats(newest), amount: 300 });
      }
      if (o.items?.data.length || o.lines?.data.length) withAddOn += 1;
      expect((await send(api, { ...e, data: { ...e.data, object: o } })).status).toBe(200);
    }
    expect(withAddOn).toBeGreaterThan(3);
    await waitForInbox(api.db);
    expect(await client.entitlements.get.query()).toMatchObject({ plan: 'pro', subscriptionStatus: 'active' });
    expect(await client.orders.get.query({ orderId })).toMatchObject({ status: 'succeeded', reviewReason: null });
    const subscriptionId = simulator.state.checkoutSessions.get(checkoutSessionId)!.subscription as string;
    const detail = await admin.admin.subscriptions.get.query({ subscriptionId });
    expect(detail.history.filter((h) => h.kind === 'review')).toEqual([]);
    expect(detail.history.filter((h) => h.kind === 'plan').map((h) => [h.fromPlan, h.toPlan])).toEqual([['hobby', 'pro']]);
  });

  it('an add-on the customer adds later (the simulator\'s --add-on) is billed with each renewal: the plan stays, the renewal records plan + add-on, no review', async () => {
    const client = trpcClient(api.url, await userToken(`user_seats_${kind}`));
    const { checkoutSessionId } = await client.checkout.create.mutate({ productId: 'hobby' });
    const startAt = Math.floor(Date.now() / 1000) - 3 * SUBSCRIPTION_PERIOD_S;
    const run = await simulator.runJourney('subscription_renew', checkoutSessionId, { duplicates: 0.3, shuffle: true, seed: 7, startAt, addOnPriceId: 'price_seats' });
    expect(run.deliveries.every((d) => d.ok)).toBe(true);
    await waitForInbox(api.db);
    expect(await client.entitlements.get.query()).toMatchObject({ plan: 'hobby', subscriptionStatus: 'active', planPeriodEnd: new Date((startAt + 2 * SUBSCRIPTION_PERIOD_S) * 1000).toISOString() });
    const subscriptionId = simulator.state.checkoutSessions.get(checkoutSessionId)!.subscription as string;
    const detail = await admin.admin.subscriptions.get.query({ subscriptionId });
    // The renewal lists the seats first; its payment shows the plan's price.
    expect(detail.invoices.map((i) => [i.billingReason, i.status, i.amountPaid, i.priceId])).toEqual([
      ['subscription_create', 'paid', 999, 'price_hobby_monthly'],
      ['subscription_cycle', 'paid', 1299, 'price_hobby_monthly'],
    ]);
    expect(detail.history.filter((h) => h.kind === 'review' || h.kind === 'plan')).toEqual([]);
    expect(detail.subscription.plan).toBe('hobby');
    // The next bill is about what the last renewal was (plan + seats), not the bare plan.
    expect(detail.subscription.nextInvoice).toMatchObject({ amount: 1299, currency: 'usd' });
  });

  it('a plan\'s own invoice payments (PaymentIntents naming no order) are not reported as another app\'s', async () => {
    const client = trpcClient(api.url, await userToken(`user_own_pi_${kind}`));
    const { checkoutSessionId } = await client.checkout.create.mutate({ productId: 'hobby' });
    const startAt = Math.floor(Date.now() / 1000) - 2 * SUBSCRIPTION_PERIOD_S;
    const run = await simulator.runJourney('subscription_renew', checkoutSessionId, { startAt });
    await waitForInbox(api.db);
    const ids = run.events.filter((e) => e.type.startsWith('payment_intent.')).map((e) => e.id);
    expect(ids.length).toBeGreaterThan(0);
    const rows = await api.db.selectFrom('stripe_events').select(['type', 'state', 'outcome']).where('id', 'in', ids).execute();
    // Processed (not acted on, or a no-op once the invoice linked the payment to its order), never ignored as not Settle's.
    expect(rows.filter((r) => r.state !== 'processed' || r.outcome === 'not_settle')).toEqual([]);
  });

  it('the console finds a plan order by its subscription, a renewal invoice or the PaymentIntent that paid it', async () => {
    const client = trpcClient(api.url, await userToken(`user_find_plan_${kind}`));
    const { orderId, checkoutSessionId } = await client.checkout.create.mutate({ productId: 'hobby' });
    const startAt = Math.floor(Date.now() / 1000) - 2 * SUBSCRIPTION_PERIOD_S;
    const run = await simulator.runJourney('subscription_renew', checkoutSessionId, { startAt });
    await waitForInbox(api.db);
    const subscriptionId = simulator.state.checkoutSessions.get(checkoutSessionId)!.subscription as string;
    const renewal = [...run.events].reverse().find((e) => e.type === 'invoice.paid')!.data.object as { id: string; billing_reason: string };
    expect(renewal.billing_reason).toBe('subscription_cycle');
    const renewalPi = (await api.db.selectFrom('subscription_payments').select('payment_intent_id').where('invoice_id', '=', renewal.id).executeTakeFirstOrThrow()).payment_intent_id!;
    // And by an invoice's number, as the customer reads it off the PDF (in any case).
    const renewalNumber = (await api.db.selectFrom('subscription_payments').select('number').where('invoice_id', '=', renewal.id).executeTakeFirstOrThrow()).number!;
    expect(renewalNumber).toMatch(/^[A-Z0-9]+-\d{4,}$/);
    for (const term of [subscriptionId, renewal.id, renewalPi, renewalNumber, renewalNumber.toLowerCase()]) {
      const found = await admin.admin.orders.list.query({ search: term });
      expect(found.items.map((o) => o.orderId), term).toEqual([orderId]);
    }
    expect((await admin.admin.orders.list.query({ search: 'sub_nobody_has_this' })).items).toEqual([]);
    expect((await admin.admin.orders.list.query({ search: 'NOBODY00-9999' })).items).toEqual([]);
  });

  it('the console finds a one-time order by its invoice number', async () => {
    const client = trpcClient(api.url, await userToken(`user_find_invoice_${kind}`));
    const { orderId, checkoutSessionId } = await client.checkout.create.mutate({ productId: 'credits10' });
    await simulator.runJourney('card_success', checkoutSessionId);
    await waitForInbox(api.db);
    const invoice = await api.db.selectFrom('invoices').select(['id', 'number']).where('order_id', '=', orderId).executeTakeFirstOrThrow();
    expect(invoice.number).toMatch(/^[A-Z0-9]+-\d{4,}$/);
    const found = await admin.admin.orders.list.query({ search: ` ${invoice.number!} ` });
    expect(found.items.map((o) => o.orderId)).toEqual([orderId]);
  });

  it('billing.portal opens a Stripe customer portal session for the caller', async () => {
    const client = trpcClient(api.url, await userToken(`user_portal_${kind}`));
    await client.checkout.create.mutate({ productId: 'hobby' });
    const { url } = await client.billing.portal.mutate();
    expect(url).toMatch(/^http/);
    const sessions = [...simulator.state.portalSessions.values()];
    expect(sessions.at(-1)).toMatchObject({ object: 'billing_portal.session', url });
    const stranger = trpcClient(api.url, await userToken(`user_portal_none_${kind}`));
    await expect(stranger.billing.portal.mutate()).rejects.toMatchObject({ data: { code: 'NOT_FOUND' } });
  });

  it('a dispute that arrives before its invoice_payment link finds its invoice through Stripe (GET /v1/invoice_payments)', async () => {
    const userId = `user_lookup_${kind}`;
    const client = trpcClient(api.url, await userToken(userId));
    const { checkoutSessionId } = await client.checkout.create.mutate({ productId: 'hobby' });
    const startAt = Math.floor(Date.now() / 1000) - 3 * SUBSCRIPTION_PERIOD_S;
    const run = await simulator.runJourney('subscription_renewal_dispute_lost', checkoutSessionId, { deliver: false, startAt });
    // The renewal's invoice_payment.paid is lost: only Stripe's API can tell which invoice the dispute's PaymentIntent paid.
    const renewalLink = run.events.filter((e) => e.type === 'invoice_payment.paid').at(-1)!;
    for (const e of run.events.filter((x) => x.id !== renewalLink.id)) expect((await send(api, e)).status).toBe(200);
    await waitForInbox(api.db);
    expect(await client.entitlements.get.query()).toMatchObject({ plan: null, subscriptionStatus: 'active' });
    const disputes = await api.db.selectFrom('stripe_events').select(['state', 'outcome']).where('id', 'in', run.events.filter((e) => e.type === 'charge.dispute.created' || e.type === 'charge.dispute.closed').map((e) => e.id)).execute();
    expect(disputes).toHaveLength(2);
    // Both settled against the renewal (the one processed second may find nothing new: a closed dispute outranks its opening).
    expect(disputes.every((d) => d.state === 'processed' && ['payment_recorded', 'noop'].includes(d.outcome ?? ''))).toBe(true);
    expect(disputes.some((d) => d.outcome === 'payment_recorded')).toBe(true);
  });

  it('a dispute whose renewal invoice Settle has not recorded yet waits for it (a plan\'s PaymentIntent carries no order id at Stripe)', async () => {
    const client = trpcClient(api.url, await userToken(`user_lookup_wait_${kind}`));
    const { checkoutSessionId } = await client.checkout.create.mutate({ productId: 'hobby' });
    const startAt = Math.floor(Date.now() / 1000) - 3 * SUBSCRIPTION_PERIOD_S;
    const run = await simulator.runJourney('subscription_renewal_dispute_lost', checkoutSessionId, { deliver: false, startAt });
    const renewalEvents = (type: string) => run.events.filter((e) => e.type === type).slice(1);
    // The renewal's link, invoice.paid and invoice.payment_succeeded are late: the disputes come first.
    const held = new Set([...renewalEvents('invoice_payment.paid'), ...renewalEvents('invoice.paid'), ...renewalEvents('invoice.payment_succeeded')].map((e) => e.id));
    expect(held.size).toBe(3);
    for (const e of run.events.filter((x) => !held.has(x.id))) expect((await send(api, e)).status).toBe(200);
    const disputeIds = run.events.filter((e) => e.type === 'charge.dispute.created' || e.type === 'charge.dispute.closed').map((e) => e.id);
    const waiting = async () => api.db.selectFrom('stripe_events').select(['state', 'outcome', 'attempts']).where('id', 'in', disputeIds).execute();
    await expect.poll(async () => (await waiting()).every((d) => d.attempts >= 1), { timeout: 10_000 }).toBe(true);
    // Not ignored as someone else's: they wait for the invoice Stripe named.
    expect((await waiting()).map((d) => d.state).filter((s) => s === 'ignored')).toEqual([]);
    for (const e of run.events.filter((x) => held.has(x.id))) expect((await send(api, e)).status).toBe(200);
    await waitForInbox(api.db);
    expect(await client.entitlements.get.query()).toMatchObject({ plan: null, subscriptionStatus: 'active' });
    expect((await waiting()).every((d) => d.state === 'processed')).toBe(true);
  });
});

describe.each(TEST_BACKENDS.flatMap((kind) => (['new', 'legacy'] as const).map((handler) => [kind, handler] as const)))('a plan with a trial on %s, %s handler', (kind, handler) => {
  let api: TestApi;
  let simulator: StripeSimulator;
  let close: () => Promise<void>;
  beforeAll(async () => {
    const file = join(tmpdir(), `settle-trial-catalogue-${process.pid}-${kind}-${handler}.json`);
    writeFileSync(file, JSON.stringify(DEMO_PRODUCTS.map((p) => (p.id === 'hobby' ? { ...p, trialDays: 7 } : p.id === 'pro' ? { ...p, trialDays: 30 } : p))));
    // The legacy handler is the rollback path: a trial must not end up waiting for review there either.
    ({ api, simulator, close } = await startApiWithSimulator(kind, { PRODUCTS_FILE: file, HANDLER_MODE: handler }));
  });
  afterAll(async () => {
    await close?.();
  });

  it('asks Checkout for the trial; the $0 first invoice starts it as trialing, granted, without review', async () => {
    const userId = `user_trial_${kind}_${handler}`;
    const client = trpcClient(api.url, await userToken(userId));
    const { orderId, checkoutSessionId } = await client.checkout.create.mutate({ productId: 'hobby' });
    const startAt = Math.floor(Date.now() / 1000) - 86_400;
    const run = await simulator.runJourney('subscription_trial_active', checkoutSessionId, { deliver: false, startAt });
    const subscription = run.events.find((e) => e.type === 'customer.subscription.created')!.data.object as { trial_start: number; trial_end: number };
    expect(subscription.trial_end - subscription.trial_start).toBe(7 * 86_400);
    // The trial has begun and not ended yet.
    for (const e of run.events.filter((x) => x.created < startAt + 7 * 86_400)) expect((await send(api, e)).status).toBe(200);
    await waitForInbox(api.db);
    expect(await client.entitlements.get.query()).toMatchObject({ plan: 'hobby', subscriptionStatus: 'trialing' });
    expect(await client.orders.get.query({ orderId })).toMatchObject({ status: 'succeeded', reviewReason: null, handler, subscription: { status: 'trialing' } });
  });

  it('gives the trial once per plan: a checkout after a trial that ended is paid from day one; another plan still has its trial', async () => {
    const userId = `user_trial_again_${kind}_${handler}`;
    const client = trpcClient(api.url, await userToken(userId));
    const first = await client.checkout.create.mutate({ productId: 'hobby' });
    expect(simulator.sessionParams(first.checkoutSessionId)?.trialPeriodDays).toBe(7);
    // The trial ends, its first charge is declined on every retry, and Stripe cancels the subscription.
    const run = await simulator.runJourney('subscription_trial_canceled', first.checkoutSessionId, { startAt: Math.floor(Date.now() / 1000) - 3 * SUBSCRIPTION_PERIOD_S });
    expect(run.deliveries.every((d) => d.ok)).toBe(true);
    await waitForInbox(api.db);
    expect(await client.entitlements.get.query()).toMatchObject({ plan: null, subscriptionStatus: 'canceled' });

    const idempotencyKey = `again-${kind}-${handler}`;
    const again = await client.checkout.create.mutate({ productId: 'hobby', idempotencyKey });
    expect(simulator.sessionParams(again.checkoutSessionId)?.trialPeriodDays).toBeNull();
    // The caller is told: the plan has a trial, but not for this customer again.
    expect([first.trial, again.trial]).toEqual([{ offered: true, days: 7 }, { offered: false, days: 7, reason: 'plan_subscribed_before' }]);
    // A repeat of that checkout answers the same.
    expect(await client.checkout.create.mutate({ productId: 'hobby', idempotencyKey })).toEqual(again);

    // A trial of another plan is another product's trial.
    const pro = await client.checkout.create.mutate({ productId: 'pro' });
    expect(pro.trial).toEqual({ offered: true, days: 30 });
    expect(simulator.sessionParams(pro.checkoutSessionId)?.trialPeriodDays).toBe(30);
  });
});
