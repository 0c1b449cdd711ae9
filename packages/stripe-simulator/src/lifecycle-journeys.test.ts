import type Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { main } from './cli.js';
import { STRIPE_SUBSCRIPTION_END, SUBSCRIPTION_JOURNEYS, SUBSCRIPTION_LIFECYCLE_JOURNEYS, SUBSCRIPTION_PERIOD_S, type SubscriptionJourney } from './journeys.js';
import type { StripeEvent } from './stripe-events.js';
import { useSimulator } from './test-support.js';

const monthly = { interval: 'month' as const };
const h = useSimulator({
  price_hobby: { unit_amount: 999, currency: 'usd', product: 'prod_hobby', name: 'Hobby plan', recurring: monthly },
  price_pro: { unit_amount: 1999, currency: 'usd', product: 'prod_pro', name: 'Pro plan', recurring: monthly },
});

const DAY = 86_400;
const T = 1_780_000_000;
const TRIAL_DAYS = 7;

async function planCheckout(price: 'price_hobby' | 'price_pro', trialDays?: number) {
  const orderId = crypto.randomUUID();
  const customer = await h.stripe.customers.create({ metadata: { userId: 'user-plan' } });
  const session = await h.stripe.checkout.sessions.create({
    mode: 'subscription',
    customer: customer.id,
    line_items: [{ price, quantity: 1 }],
    metadata: { orderId },
    subscription_data: { metadata: { orderId, userId: 'user-plan' }, ...(trialDays ? { trial_period_days: trialDays } : {}) },
    success_url: 'http://localhost:3000/checkout/success',
  });
  return { orderId, session };
}

const objectOf = <T>(ev: StripeEvent) => ev.data.object as T;
const ofType = (events: StripeEvent[], type: string) => events.filter((e) => e.type === type);

/** Run a journey as `pnpm simulate` would, wait for every delivery, and read back what Stripe's API says. */
async function run(journey: SubscriptionJourney, price: 'price_hobby' | 'price_pro' = 'price_hobby') {
  const { orderId, session } = await planCheckout(price, journey.includes('trial') ? TRIAL_DAYS : undefined);
  const result = await h.sim.runJourney(journey, session.id, { startAt: T, duplicates: 0.3, shuffle: true, seed: journey.length });
  expect(result.deliveries.every((d) => d.ok)).toBe(true);
  await h.receiver.waitFor(result.deliveries.length);
  const subscriptionId = (await h.stripe.checkout.sessions.retrieve(session.id)).subscription as string;
  const subscription = await h.stripe.subscriptions.retrieve(subscriptionId);
  const invoices = await h.stripe.invoices.list({ subscription: subscriptionId, limit: 100 });
  return { orderId, session, events: result.events, subscription, invoices: invoices.data };
}

describe('subscription journeys in current API shapes', () => {
  it.each([...SUBSCRIPTION_JOURNEYS, ...SUBSCRIPTION_LIFECYCLE_JOURNEYS])('%s: Stripe ends as expected; invoices, payments and periods in basil shapes', async (journey) => {
    const { orderId, events, subscription, invoices } = await run(journey, journey === 'subscription_downgrade' ? 'price_pro' : 'price_hobby');
    const end = STRIPE_SUBSCRIPTION_END[journey];
    expect(subscription.status).toBe(end.status);
    expect(subscription.metadata).toEqual({ orderId, userId: 'user-plan' });
    expect(invoices).toHaveLength(end.invoices);
    expect(invoices.filter((i) => i.status === 'paid')).toHaveLength(end.paidInvoices);
    const startPrice = journey === 'subscription_downgrade' ? 'price_pro' : 'price_hobby';
    const targetPrice = journey === 'subscription_downgrade' ? 'price_hobby' : 'price_pro';
    expect(subscription.items.data[0]!.price.id).toBe(end.price === 'plan' ? startPrice : targetPrice);

    // Invoices name their subscription under parent; numbers are unique.
    for (const invoice of invoices) {
      expect(invoice.parent?.subscription_details).toMatchObject({ subscription: subscription.id, metadata: { orderId } });
      expect(invoice).not.toHaveProperty('subscription');
    }
    expect(new Set(invoices.map((i) => i.number)).size).toBe(invoices.length);
    // Subscriptions carry their period on the items only.
    for (const ev of events.filter((e) => e.type.startsWith('customer.subscription.'))) {
      const sub = objectOf<Stripe.Subscription>(ev);
      expect(sub.items.data[0]!.current_period_end).toBeGreaterThan(sub.items.data[0]!.current_period_start);
      expect(sub).not.toHaveProperty('current_period_end');
    }
    // PaymentIntents and charges do not name their invoice; an invoice payment links each collected PaymentIntent to its invoice.
    for (const ev of events.filter((e) => e.type.startsWith('payment_intent.') || e.type.startsWith('charge.'))) {
      expect(ev.data.object).not.toHaveProperty('invoice');
    }
    for (const ev of ofType(events, 'payment_intent.succeeded')) {
      const pi = objectOf<Stripe.PaymentIntent>(ev);
      const links = await h.stripe.invoicePayments.list({ payment: { type: 'payment_intent', payment_intent: pi.id } });
      expect(links.data).toHaveLength(1);
      expect(links.data[0]).toMatchObject({ object: 'invoice_payment', status: 'paid', amount_paid: pi.amount, payment: { type: 'payment_intent', payment_intent: pi.id } });
      const invoice = invoices.find((i) => i.id === links.data[0]!.invoice)!;
      expect(invoice.amount_paid).toBe(pi.amount);
      expect((await h.stripe.invoicePayments.list({ invoice: invoice.id })).data.map((p) => p.id)).toEqual([links.data[0]!.id]);
    }
    for (const ev of ofType(events, 'invoice_payment.paid')) {
      expect(await h.stripe.invoicePayments.retrieve(objectOf<{ id: string }>(ev).id)).toMatchObject({ status: 'paid' });
    }
  });

  it('subscription_trial_active: a $0 trial invoice, trial_will_end, then the first real invoice at the trial\'s end', async () => {
    const { events, subscription, invoices } = await run('subscription_trial_active');
    const trialEnd = T + TRIAL_DAYS * DAY;
    const [created] = ofType(events, 'customer.subscription.created').map(objectOf<Stripe.Subscription>);
    expect(created).toMatchObject({ status: 'trialing', trial_start: T, trial_end: trialEnd });
    expect(ofType(events, 'customer.subscription.trial_will_end')[0]!.created).toBe(trialEnd - 3 * DAY);
    const byReason = Object.fromEntries(invoices.map((i) => [i.billing_reason, i]));
    expect(byReason.subscription_create).toMatchObject({ amount_due: 0, amount_paid: 0, status: 'paid' });
    expect(byReason.subscription_cycle).toMatchObject({ amount_paid: 999, status: 'paid' });
    const updated = ofType(events, 'customer.subscription.updated')[0]!;
    expect(updated.data.previous_attributes).toMatchObject({ status: 'trialing' });
    expect(subscription.items.data[0]!.current_period_end).toBe(trialEnd + SUBSCRIPTION_PERIOD_S);
    expect(objectOf<Stripe.Checkout.Session>(ofType(events, 'checkout.session.completed')[0]!).payment_status).toBe('no_payment_required');
  });

  it('subscription_trial_canceled: the trial ends unpaid, every retry fails, Stripe cancels', async () => {
    const { events, subscription } = await run('subscription_trial_canceled');
    const failed = ofType(events, 'invoice.payment_failed').map(objectOf<Stripe.Invoice>);
    expect(failed.map((i) => i.attempt_count)).toEqual([1, 2, 3]);
    expect(failed.at(-1)!.next_payment_attempt).toBeNull();
    expect(ofType(events, 'customer.subscription.updated').map((e) => objectOf<Stripe.Subscription>(e).status)).toEqual(['active', 'past_due']);
    expect(subscription).toMatchObject({ status: 'canceled', cancellation_details: { reason: 'payment_failed' } });
  });

  it('subscription_dunning_unpaid: invoice.payment_failed ×4, then customer.subscription.updated to unpaid', async () => {
    const { events } = await run('subscription_dunning_unpaid');
    const failed = ofType(events, 'invoice.payment_failed').map(objectOf<Stripe.Invoice>);
    expect(failed.map((i) => [i.attempt_count, i.status, i.billing_reason])).toEqual([1, 2, 3, 4].map((n) => [n, 'open', 'subscription_cycle']));
    expect(failed.slice(0, 3).every((i) => i.next_payment_attempt !== null)).toBe(true);
    expect(failed[3]!.next_payment_attempt).toBeNull();
    const last = ofType(events, 'customer.subscription.updated').at(-1)!;
    expect(objectOf<Stripe.Subscription>(last).status).toBe('unpaid');
    expect(last.data.previous_attributes).toEqual({ status: 'past_due' });
    expect(events.at(-1)!.id).toBe(last.id);
  });

  it('subscription_upgrade: the item moves to the higher known price and a proration invoice is paid', async () => {
    const { events, invoices } = await run('subscription_upgrade');
    const moved = ofType(events, 'customer.subscription.updated').at(-1)!;
    expect(objectOf<Stripe.Subscription>(moved).items.data[0]!.price).toMatchObject({ id: 'price_pro', product: 'prod_pro', unit_amount: 1999 });
    expect((moved.data.previous_attributes as { items: Stripe.ApiList<Stripe.SubscriptionItem> }).items.data[0]!.price.id).toBe('price_hobby');
    const proration = invoices.find((i) => i.billing_reason === 'subscription_update')!;
    const remaining = 20 / 30;
    expect(proration).toMatchObject({ status: 'paid', amount_paid: Math.round(1999 * remaining) - Math.round(999 * remaining) });
    expect(proration.lines.data.map((l) => [l.amount < 0, l.parent?.subscription_item_details?.proration, l.pricing?.price_details?.price])).toEqual([
      [true, true, 'price_hobby'],
      [false, true, 'price_pro'],
    ]);
  });

  it('subscription_downgrade: the item moves to the lower price; the next period is billed at it', async () => {
    const { invoices } = await run('subscription_downgrade', 'price_pro');
    const cycle = invoices.find((i) => i.billing_reason === 'subscription_cycle')!;
    expect(cycle).toMatchObject({ amount_paid: 999, status: 'paid' });
    expect(cycle.lines.data[0]!.pricing?.price_details?.price).toBe('price_hobby');
  });

  it('subscription_renewal_refund and _dispute_lost: the renewal\'s charge, linked to its invoice only through the invoice payment', async () => {
    for (const journey of ['subscription_renewal_refund', 'subscription_renewal_dispute_lost'] as const) {
      const { events, invoices } = await run(journey);
      const renewal = invoices.find((i) => i.billing_reason === 'subscription_cycle')!;
      const link = (await h.stripe.invoicePayments.list({ invoice: renewal.id })).data[0]!;
      const piId = (link.payment as { payment_intent: string }).payment_intent;
      const pi = await h.stripe.paymentIntents.retrieve(piId);
      const charge = await h.stripe.charges.retrieve(pi.latest_charge as string);
      if (journey === 'subscription_renewal_refund') {
        const refund = objectOf<Stripe.Refund>(ofType(events, 'refund.created')[0]!);
        expect(refund).toMatchObject({ charge: charge.id, payment_intent: piId, amount: renewal.amount_paid, status: 'succeeded' });
        expect(charge).toMatchObject({ refunded: true, amount_refunded: renewal.amount_paid });
      } else {
        const closed = objectOf<Stripe.Dispute>(ofType(events, 'charge.dispute.closed')[0]!);
        expect(closed).toMatchObject({ charge: charge.id, payment_intent: piId, status: 'lost', amount: renewal.amount_paid });
        expect(charge.disputed).toBe(true);
      }
    }
  });

  it('subscription_free_first_invoice: a 100%-off first invoice paid without a payment, then a full-price renewal', async () => {
    const { events, invoices } = await run('subscription_free_first_invoice');
    const first = invoices.find((i) => i.billing_reason === 'subscription_create')!;
    expect(first).toMatchObject({ subtotal: 999, total: 0, amount_due: 0, amount_paid: 0, status: 'paid', total_discount_amounts: [{ amount: 999 }] });
    expect((await h.stripe.invoicePayments.list({ invoice: first.id })).data).toEqual([]);
    expect(ofType(events, 'payment_intent.succeeded')).toHaveLength(1);
    expect(invoices.find((i) => i.billing_reason === 'subscription_cycle')).toMatchObject({ amount_paid: 999 });
    expect(ofType(events, 'customer.subscription.created').map((e) => objectOf<Stripe.Subscription>(e).status)).toEqual(['active']);
  });

  it('upgrades to any price id asked for with --to-price', async () => {
    const { session } = await planCheckout('price_hobby');
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(['subscription_upgrade', '--session', session.id, '--to-price', 'price_enterprise'], { env: { SIMULATOR_URL: h.sim.url }, out: (l) => out.push(l), err: (l) => err.push(l) });
    expect(err).toEqual([]);
    expect(code).toBe(0);
    const subscription = await h.stripe.subscriptions.retrieve((await h.stripe.checkout.sessions.retrieve(session.id)).subscription as string);
    expect(subscription.items.data[0]!.price).toMatchObject({ id: 'price_enterprise', unit_amount: 1998 });
  });
});
