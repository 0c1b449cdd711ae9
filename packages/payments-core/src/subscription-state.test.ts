import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decide } from './decide.js';
import type { GrantSpec } from './decision.js';
import type { OrderState } from './order-state.js';
import { mapStripeEvent, type StripeEventLike } from './stripe-event.mapper.js';
import {
  STRIPE_SUBSCRIPTION_STATUSES,
  decideSubscription,
  effectivePeriodEnd,
  firstInvoiceFacts,
  planEntitlementOf,
  subscriptionStatusOf,
  type StripeSubscriptionStatus,
  type SubscriptionFacts,
  type SubscriptionState,
} from './subscription-state.js';

const T0 = 1_721_948_530;
const MONTH = 30 * 86_400;
const DAY = 86_400;
const SUB = 'sub_1PgafmB7WZ01zgkWwyRHS12y';
const META = { orderId: 'ord_1', userId: 'user_1' };
const PLAN: GrantSpec = { kind: 'plan', plan: 'pro' };

const facts = (stripeStatus: StripeSubscriptionStatus, patch: Partial<SubscriptionFacts> = {}): SubscriptionFacts => ({
  subscriptionId: SUB, customerId: 'cus_1', stripeStatus, cancelAtPeriodEnd: false, currentPeriodEnd: T0 + MONTH,
  priceId: 'price_pro', orderId: 'ord_1', userId: 'user_1', trialEnd: null, latestInvoiceId: null, ...patch,
});
const PRICES: Record<string, string> = { price_hobby: 'hobby', price_pro: 'pro' };
const planOf = (priceId: string) => PRICES[priceId] ?? null;
const state = (stripeStatus: StripeSubscriptionStatus, statusAt: number, patch: Partial<SubscriptionState> = {}): SubscriptionState => {
  const cancelAtPeriodEnd = patch.cancelAtPeriodEnd ?? false;
  return {
    id: SUB, stripeStatus, status: subscriptionStatusOf(stripeStatus, cancelAtPeriodEnd), cancelAtPeriodEnd,
    currentPeriodEnd: T0 + MONTH, cancelAt: null, statusAt, priceId: 'price_pro', plan: 'pro', planAt: statusAt, unknownPriceId: null, inferred: false, ...patch,
  };
};

describe('subscriptionStatusOf', () => {
  it.each([
    ['active', false, 'active'],
    ['trialing', false, 'trialing'],
    ['active', true, 'cancel_at_period_end'],
    ['trialing', true, 'cancel_at_period_end'],
    ['past_due', false, 'past_due'],
    ['past_due', true, 'past_due'],
    ['unpaid', false, 'unpaid'],
    ['canceled', true, 'canceled'],
    ['incomplete_expired', false, 'canceled'],
    ['incomplete', false, 'incomplete'],
    ['paused', false, 'paused'],
  ] as const)('%s (cancel_at_period_end %s) → %s', (stripe, cap, exposed) => {
    expect(subscriptionStatusOf(stripe, cap)).toBe(exposed);
  });
});

describe('decideSubscription', () => {
  it.each([
    ['nothing known yet', null, facts('incomplete'), T0, { changed: true, stale: false, status: 'incomplete' }],
    ['newer status', state('incomplete', T0), facts('active'), T0 + 1, { changed: true, stale: false, status: 'active' }],
    ['same second, later in the lifecycle', state('incomplete', T0), facts('active'), T0, { changed: true, stale: false, status: 'active' }],
    ['same second, earlier in the lifecycle', state('active', T0), facts('incomplete'), T0, { changed: false, stale: true, status: 'active' }],
    ['older event', state('active', T0 + 10), facts('incomplete'), T0, { changed: false, stale: true, status: 'active' }],
    ['duplicate', state('active', T0), facts('active'), T0, { changed: false, stale: false, status: 'active' }],
    ['renewal moves the period on', state('active', T0), facts('active', { currentPeriodEnd: T0 + 2 * MONTH }), T0 + MONTH, { changed: true, stale: false, status: 'active' }],
    ['cancellation scheduled', state('active', T0), facts('active', { cancelAtPeriodEnd: true }), T0 + 10, { changed: true, stale: false, status: 'cancel_at_period_end' }],
    ['cancellation undone later', state('active', T0, { cancelAtPeriodEnd: true }), facts('active'), T0 + 20, { changed: true, stale: false, status: 'active' }],
    ['renewal fails', state('active', T0 + MONTH), facts('past_due'), T0 + MONTH + 3600, { changed: true, stale: false, status: 'past_due' }],
    ['recovers from past due', state('past_due', T0 + MONTH), facts('active'), T0 + MONTH + 86_400, { changed: true, stale: false, status: 'active' }],
    ['deleted', state('active', T0, { cancelAtPeriodEnd: true }), facts('canceled', { cancelAtPeriodEnd: true }), T0 + MONTH, { changed: true, stale: false, status: 'canceled' }],
    ['canceled wins a tie', state('active', T0 + MONTH), facts('canceled'), T0 + MONTH, { changed: true, stale: false, status: 'canceled' }],
    ['canceled is terminal, even for a newer event', state('canceled', T0 + MONTH), facts('active', { priceId: null }), T0 + 2 * MONTH, { changed: false, stale: true, status: 'canceled' }],
    ['older update after deleted', state('canceled', T0 + MONTH, { planAt: T0 + MONTH }), facts('active', { cancelAtPeriodEnd: true }), T0 + 10, { changed: false, stale: true, status: 'canceled' }],
    ['incomplete expired is terminal', state('incomplete_expired', T0 + 86_400, { planAt: T0 + 2 * 86_400 }), facts('active'), T0 + 2 * 86_400, { changed: false, stale: true, status: 'canceled' }],
    ['trialing', null, facts('trialing', { trialEnd: T0 + 14 * 86_400 }), T0, { changed: true, stale: false, status: 'trialing' }],
    ['trial ends unpaid', state('trialing', T0), facts('past_due'), T0 + 14 * 86_400, { changed: true, stale: false, status: 'past_due' }],
    ['dunning exhausted', state('past_due', T0 + MONTH), facts('unpaid'), T0 + MONTH + 20 * 86_400, { changed: true, stale: false, status: 'unpaid' }],
  ] as const)('%s', (_, current, f, at, expected) => {
    const d = decideSubscription(current, f, at, planOf, 'pro');
    expect({ changed: d.changed, stale: d.stale, status: d.next.status }).toEqual(expected);
    if (d.changed && !d.stale) expect(d.next.statusAt).toBe(at);
    if (!d.changed) expect(d.next).toBe(current);
  });

  it('the same facts read again later move only the clocks: written (changed), not a change anyone sees (not moved)', () => {
    const d = decideSubscription(state('active', T0, { planAt: T0 }), facts('active'), T0 + 60, planOf, 'pro');
    expect({ changed: d.changed, moved: d.moved, status: d.next.status, statusAt: d.next.statusAt }).toEqual({ changed: true, moved: false, status: 'active', statusAt: T0 + 60 });
    const renewed = decideSubscription(state('active', T0), facts('active', { currentPeriodEnd: T0 + 2 * MONTH }), T0 + MONTH, planOf, 'pro');
    expect({ changed: renewed.changed, moved: renewed.moved }).toEqual({ changed: true, moved: true });
    expect(decideSubscription(null, facts('active'), T0, planOf, 'pro').moved).toBe(true);
  });

  it('is total over every pair of Stripe statuses', () => {
    for (const a of STRIPE_SUBSCRIPTION_STATUSES) {
      for (const b of STRIPE_SUBSCRIPTION_STATUSES) {
        const d = decideSubscription(state(a, T0), facts(b), T0 + 1, planOf, 'pro');
        if (a === 'canceled' || a === 'incomplete_expired') {
          expect(d.next.status).toBe('canceled');
        } else {
          expect(d.next.stripeStatus).toBe(b);
        }
      }
    }
  });
});

// Stripe-shaped objects for one subscription journey (see /work/shared/stripe-fixtures).
const subscription = (status: string, periodStart: number, patch: Record<string, unknown> = {}) => ({
  id: SUB, object: 'subscription', customer: 'cus_1', status, cancel_at_period_end: false, cancel_at: null, metadata: META,
  items: { object: 'list', data: [{ id: 'si_1', object: 'subscription_item', current_period_start: periodStart, current_period_end: periodStart + MONTH, price: { id: 'price_pro', object: 'price' }, quantity: 1 }] },
  ...patch,
});
const invoice = (id: string, billing_reason: string, status: string, periodStart: number) => ({
  id, object: 'invoice', billing_reason, status, amount_due: 1999, amount_paid: status === 'paid' ? 1999 : 0, currency: 'usd',
  created: periodStart, metadata: {}, number: `N-${id}`, hosted_invoice_url: `https://invoice.stripe.com/i/${id}`, invoice_pdf: null,
  status_transitions: { finalized_at: periodStart, paid_at: status === 'paid' ? periodStart : null },
  lines: { object: 'list', data: [{ id: `il_${id}`, object: 'line_item', period: { start: periodStart, end: periodStart + MONTH } }] },
  parent: { type: 'subscription_details', subscription_details: { metadata: META, subscription: SUB } },
});
let seq = 0;
const ev = (type: string, created: number, object: unknown): StripeEventLike => ({ id: `evt_${++seq}`, type, created, data: { object } });

const started = [
  ev('customer.subscription.created', T0, subscription('incomplete', T0)),
  ev('invoice.finalized', T0, invoice('in_1', 'subscription_create', 'open', T0)),
  ev('invoice.paid', T0 + 1, invoice('in_1', 'subscription_create', 'paid', T0)),
  ev('customer.subscription.updated', T0 + 1, subscription('active', T0)),
];
const JOURNEYS: { name: string; events: StripeEventLike[]; status: string; periodEnd: number }[] = [
  {
    name: 'renew',
    events: [
      ...started,
      ev('customer.subscription.updated', T0 + MONTH, subscription('active', T0 + MONTH)),
      ev('invoice.paid', T0 + MONTH + 3600, invoice('in_2', 'subscription_cycle', 'paid', T0 + MONTH)),
    ],
    status: 'active',
    periodEnd: T0 + 2 * MONTH,
  },
  {
    name: 'past due',
    events: [
      ...started,
      ev('customer.subscription.updated', T0 + MONTH, subscription('active', T0 + MONTH)),
      ev('invoice.payment_failed', T0 + MONTH + 3600, invoice('in_2', 'subscription_cycle', 'open', T0 + MONTH)),
      ev('customer.subscription.updated', T0 + MONTH + 3600, subscription('past_due', T0 + MONTH)),
    ],
    status: 'past_due',
    periodEnd: T0 + 2 * MONTH,
  },
  {
    name: 'cancel',
    events: [
      ...started,
      ev('customer.subscription.updated', T0 + 10 * 86_400, subscription('active', T0, { cancel_at_period_end: true, cancel_at: T0 + MONTH })),
      ev('customer.subscription.deleted', T0 + MONTH, subscription('canceled', T0, { cancel_at_period_end: true, ended_at: T0 + MONTH })),
    ],
    status: 'canceled',
    periodEnd: T0 + MONTH,
  },
];

/** Fold a delivery through the mapper and `decideSubscription`, as the API does (the first paid invoice counts as `active`). */
function fold(events: StripeEventLike[]): SubscriptionState | null {
  let current: SubscriptionState | null = null;
  for (const e of events) {
    const m = mapStripeEvent(e);
    if (!m.supported) continue;
    if (m.command.type === 'subscription_changed') current = decideSubscription(current, m.command.subscription, e.created, planOf, 'pro').next;
    if (m.command.type === 'subscription_invoice_paid' && m.command.billingReason === 'subscription_create' && (!current || current.stripeStatus === 'incomplete')) {
      const bootstrap = facts('active', { currentPeriodEnd: m.command.periodEnd });
      current = decideSubscription(current, bootstrap, e.created, planOf, 'pro').next;
    }
  }
  return current;
}

describe('the plan follows the price', () => {
  it('an upgrade moves the plan to the new price', () => {
    const d = decideSubscription(state('active', T0, { priceId: 'price_hobby', plan: 'hobby', planAt: T0 }), facts('active', { priceId: 'price_pro' }), T0 + 100, planOf, 'hobby');
    expect(d.next).toMatchObject({ plan: 'pro', planAt: T0 + 100, priceId: 'price_pro', unknownPriceId: null });
  });

  it('a price the catalogue does not know keeps the last known plan and asks for review', () => {
    const d = decideSubscription(state('active', T0, { priceId: 'price_hobby', plan: 'hobby', planAt: T0 }), facts('active', { priceId: 'price_enterprise' }), T0 + 100, planOf, 'hobby');
    expect(d.next).toMatchObject({ plan: 'hobby', priceId: 'price_enterprise', unknownPriceId: 'price_enterprise' });
    const known = decideSubscription(d.next, facts('active', { priceId: 'price_pro' }), T0 + 200, planOf, 'hobby');
    expect(known.next).toMatchObject({ plan: 'pro', unknownPriceId: null });
  });

  it('the latest known price wins even when its status fact is stale', () => {
    const hobby = decideSubscription(null, facts('active', { priceId: 'price_hobby' }), T0, planOf, 'hobby').next;
    const unknownFirst = decideSubscription(hobby, facts('active', { priceId: 'price_x' }), T0 + 300, planOf, 'hobby').next;
    const d = decideSubscription(unknownFirst, facts('active', { priceId: 'price_pro' }), T0 + 200, planOf, 'hobby');
    expect(d).toMatchObject({ changed: true, stale: false, next: { plan: 'pro', statusAt: T0 + 300, unknownPriceId: 'price_x' } });
  });

  it('with several items (a plan and add-ons) the plan follows the first price the catalogue knows; with none known, review', () => {
    const d = decideSubscription(state('active', T0, { priceId: 'price_hobby', plan: 'hobby', planAt: T0 }), facts('active', { priceId: 'price_seats', priceIds: ['price_seats', 'price_pro'] }), T0 + 100, planOf, 'hobby');
    expect(d.next).toMatchObject({ plan: 'pro', priceId: 'price_pro', unknownPriceId: null });
    const none = decideSubscription(d.next, facts('active', { priceId: 'price_seats', priceIds: ['price_seats', 'price_support'] }), T0 + 200, planOf, 'hobby');
    expect(none.next).toMatchObject({ plan: 'pro', unknownPriceId: 'price_seats' });
  });

  it('a fact without a price keeps the plan the order bought', () => {
    expect(decideSubscription(null, facts('active', { priceId: null }), T0, planOf, 'hobby').next.plan).toBe('hobby');
  });
});

describe('what the first paid invoice implies', () => {
  const invoice = (amount: number, balanceApplied = 0) => ({
    invoiceId: 'in_1', number: null, status: 'paid', hostedInvoiceUrl: null, invoicePdf: null, amountDue: amount, amountPaid: amount, balanceApplied,
    currency: 'usd', subscriptionId: SUB, billingReason: 'subscription_create', periodStart: T0, periodEnd: T0 + MONTH, priceId: 'price_pro',
    paymentIntentId: amount > 0 ? 'pi_1' : null, chargeId: null, attemptCount: amount > 0 ? 1 : 0,
  });
  const inferred = (amount: number, balanceApplied = 0) => firstInvoiceFacts(invoice(amount, balanceApplied), SUB, { orderId: 'ord_1', userId: 'user_1' });

  it('is active when money paid it (by card or from the credit balance) and trialing when nothing did', () => {
    expect(inferred(2000)).toMatchObject({ stripeStatus: 'active', trialEnd: null, inferred: true });
    expect(inferred(0, 2000)).toMatchObject({ stripeStatus: 'active', trialEnd: null, inferred: true });
    expect(inferred(0)).toMatchObject({ stripeStatus: 'trialing', trialEnd: T0 + MONTH, inferred: true });
  });

  it('completes an incomplete subscription, and never overrules what a subscription object said', () => {
    const completed = decideSubscription(state('incomplete', T0), inferred(2000), T0 + 1, planOf, 'pro');
    expect(completed.next).toMatchObject({ status: 'active', statusAt: T0 + 1, inferred: true });
    const overruled = decideSubscription(state('past_due', T0), inferred(2000), T0 + 5, planOf, 'pro');
    expect(overruled).toMatchObject({ next: { status: 'past_due', statusAt: T0, inferred: false } });
  });

  it('gives way to an older subscription object, except an incomplete one the payment moved past', () => {
    const guess = decideSubscription(null, inferred(0), T0 + 1, planOf, 'pro').next;
    expect(guess).toMatchObject({ status: 'trialing', inferred: true });
    expect(decideSubscription(guess, facts('active'), T0, planOf, 'pro')).toMatchObject({ changed: true, next: { status: 'active', statusAt: T0, inferred: false } });
    expect(decideSubscription(guess, facts('incomplete'), T0, planOf, 'pro')).toMatchObject({ stale: true, next: { status: 'trialing', inferred: true } });
  });
});

describe('subscription journeys', () => {
  it.each(JOURNEYS)('$name in order ends $status with the period from Stripe', ({ events, status, periodEnd }) => {
    expect(fold(events)).toMatchObject({ status, currentPeriodEnd: periodEnd });
  });

  it.each(JOURNEYS)('$name: any order, any duplication, same final subscription state', ({ events }) => {
    const expected = fold(events);
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: events.length - 1 }), { maxLength: events.length }),
        fc.infiniteStream(fc.double({ min: 0, max: 1, noNaN: true })),
        (dupes, randoms) => {
          const delivery = [...events, ...dupes.map((i) => events[i]!)];
          for (let i = delivery.length - 1; i > 0; i--) {
            const j = Math.floor(randoms.next().value * (i + 1)) % (i + 1);
            [delivery[i], delivery[j]] = [delivery[j]!, delivery[i]!];
          }
          expect(fold(delivery)).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('the first paid invoice confirms the order with its plan; renewals only record', () => {
    const order: OrderState = {
      id: 'ord_1', userId: 'user_1', status: 'pending', handler: 'new', amount: 1999, currency: 'usd', checkoutSessionId: 'cs_1',
      paymentIntentId: null, statusAt: null, paidAt: null, amountRefunded: 0, disputeId: null, disputeStatus: null,
      statusBeforeDispute: null, reviewReason: null, failureReason: null, refunds: [],
    };
    const first = mapStripeEvent(ev('invoice.paid', T0 + 1, invoice('in_1', 'subscription_create', 'paid', T0)));
    const renewal = mapStripeEvent(ev('invoice.paid', T0 + MONTH, invoice('in_2', 'subscription_cycle', 'paid', T0 + MONTH)));
    if (!first.supported || !renewal.supported) throw new Error('unsupported');
    const d = decide(order, first.command, { at: T0 + 1, grant: PLAN });
    expect(d.outcome).toBe('applied');
    expect(d.next.status).toBe('succeeded');
    expect(d.effects.map((e) => e.type)).toEqual(['audit', 'grant', 'restore', 'record_invoice']);
    const again = decide(d.next, first.command, { at: T0 + 1, grant: PLAN });
    expect(again).toMatchObject({ outcome: 'recorded', effects: [{ type: 'record_invoice' }] });
    expect(decide(d.next, renewal.command, { at: T0 + MONTH, grant: PLAN })).toMatchObject({ outcome: 'recorded', next: d.next });
    const legacy = decide({ ...order, handler: 'legacy' }, first.command, { at: T0 + 1, grant: PLAN });
    expect(legacy).toMatchObject({ outcome: 'recorded', next: { status: 'pending' } });
    const wrongAmount = mapStripeEvent(ev('invoice.paid', T0 + 1, { ...invoice('in_1', 'subscription_create', 'paid', T0), amount_paid: 999 }));
    if (!wrongAmount.supported) throw new Error('unsupported');
    expect(decide(order, wrongAmount.command, { at: T0 + 1, grant: PLAN })).toMatchObject({ outcome: 'parked', rejection: { code: 'AMOUNT_MISMATCH' } });
  });

  it('a subscription-mode Checkout completion only links under the new handler and confirms under legacy', () => {
    const m = mapStripeEvent(ev('checkout.session.completed', T0 + 1, {
      id: 'cs_1', object: 'checkout.session', mode: 'subscription', status: 'complete', payment_status: 'paid', payment_intent: null,
      subscription: SUB, amount_total: 1999, currency: 'usd', metadata: { orderId: 'ord_1' },
    }));
    expect(m).toMatchObject({ supported: true, command: { type: 'checkout_completed', subscriptionId: SUB } });
    if (!m.supported) return;
    const order: OrderState = {
      id: 'ord_1', userId: 'user_1', status: 'pending', handler: 'new', amount: 1999, currency: 'usd', checkoutSessionId: null,
      paymentIntentId: null, statusAt: null, paidAt: null, amountRefunded: 0, disputeId: null, disputeStatus: null,
      statusBeforeDispute: null, reviewReason: null, failureReason: null, refunds: [],
    };
    expect(decide(order, m.command, { at: T0 + 1, grant: PLAN })).toMatchObject({ next: { status: 'pending', checkoutSessionId: 'cs_1' }, effects: [] });
    expect(decide({ ...order, handler: 'legacy' }, m.command, { at: T0 + 1, grant: PLAN }).next.status).toBe('succeeded');
  });
});

describe('planEntitlementOf', () => {
  const STRIPE_STATUS: Record<SubscriptionState['status'], StripeSubscriptionStatus> = {
    trialing: 'trialing', active: 'active', cancel_at_period_end: 'active', past_due: 'past_due', unpaid: 'unpaid', paused: 'paused', incomplete: 'incomplete', canceled: 'canceled',
  };
  const sub = (plan: string, status: SubscriptionState['status'], statusAt: number, confirmed = true, moneyTakenBack = false, startedAt = statusAt, stripeStatus = STRIPE_STATUS[status], moneyPaid = stripeStatus !== 'trialing', cancelAt: number | null = null) =>
    ({ plan, status, stripeStatus, currentPeriodEnd: statusAt + MONTH, cancelAt, statusAt, startedAt, confirmed, moneyTakenBack, moneyPaid });

  it.each([
    ['no subscriptions', [], null],
    ['unconfirmed only: no plan, its status', [sub('pro', 'active', T0, false)], { plan: null, subscriptionStatus: 'active', planPeriodEnd: null }],
    ['a first payment that failed: incomplete', [sub('pro', 'incomplete', T0, false)], { plan: null, subscriptionStatus: 'incomplete', planPeriodEnd: null }],
    ['an incomplete new one is newer than an old canceled one', [sub('hobby', 'canceled', T0), sub('pro', 'incomplete', T0 + 5, false)], { plan: null, subscriptionStatus: 'incomplete', planPeriodEnd: null }],
    ['canceled while its order is parked for review: the plan ends', [sub('pro', 'canceled', T0, false)], { plan: null, subscriptionStatus: 'canceled', planPeriodEnd: null }],
    ['active', [sub('pro', 'active', T0)], { plan: 'pro', subscriptionStatus: 'active', planPeriodEnd: T0 + MONTH }],
    ['past due keeps the plan', [sub('pro', 'past_due', T0)], { plan: 'pro', subscriptionStatus: 'past_due', planPeriodEnd: T0 + MONTH }],
    ['cancel at period end keeps the plan', [sub('pro', 'cancel_at_period_end', T0)], { plan: 'pro', subscriptionStatus: 'cancel_at_period_end', planPeriodEnd: T0 + MONTH }],
    // Stripe ends it at cancel_at, prorated: the plan's end is there, not at the period's end.
    ['a cancellation before the period end ends the plan there', [sub('pro', 'cancel_at_period_end', T0, true, false, T0, 'active', true, T0 + 10 * DAY)], { plan: 'pro', subscriptionStatus: 'cancel_at_period_end', planPeriodEnd: T0 + 10 * DAY }],
    ['a cancellation in a later period leaves this one to renew', [sub('pro', 'cancel_at_period_end', T0, true, false, T0, 'active', true, T0 + 2 * MONTH)], { plan: 'pro', subscriptionStatus: 'cancel_at_period_end', planPeriodEnd: T0 + MONTH }],
    ['canceled clears it', [sub('pro', 'canceled', T0)], { plan: null, subscriptionStatus: 'canceled', planPeriodEnd: null }],
    ['trialing keeps the plan', [sub('pro', 'trialing', T0)], { plan: 'pro', subscriptionStatus: 'trialing', planPeriodEnd: T0 + MONTH }],
    ['unpaid takes it', [sub('pro', 'unpaid', T0)], { plan: null, subscriptionStatus: 'unpaid', planPeriodEnd: null }],
    ['paused takes it', [sub('pro', 'paused', T0)], { plan: null, subscriptionStatus: 'paused', planPeriodEnd: null }],
    ['money taken back takes it', [sub('pro', 'active', T0, true, true)], { plan: null, subscriptionStatus: 'active', planPeriodEnd: null }],
    ['a live one beats a newer canceled one', [sub('hobby', 'active', T0), sub('pro', 'canceled', T0 + 5)], { plan: 'hobby', subscriptionStatus: 'active', planPeriodEnd: T0 + MONTH }],
    ['the one bought last wins', [sub('hobby', 'active', T0), sub('pro', 'active', T0 + 5)], { plan: 'pro', subscriptionStatus: 'active', planPeriodEnd: T0 + 5 + MONTH }],
    ['a renewal of the plan bought first does not take over', [sub('hobby', 'active', T0 + MONTH, true, false, T0), sub('pro', 'active', T0 + 5)], { plan: 'pro', subscriptionStatus: 'active', planPeriodEnd: T0 + 5 + MONTH }],
    ['a paid plan outranks a trial of another started later', [sub('pro', 'active', T0), sub('hobby', 'trialing', T0 + 5)], { plan: 'pro', subscriptionStatus: 'active', planPeriodEnd: T0 + MONTH }],
    // The customer scheduled the trial's cancellation (so as not to be charged): still a trial, nothing paid.
    ['a paid plan outranks a trial of another set to cancel at its end', [sub('pro', 'active', T0), sub('hobby', 'cancel_at_period_end', T0 + 5, true, false, T0 + 5, 'trialing')], { plan: 'pro', subscriptionStatus: 'active', planPeriodEnd: T0 + MONTH }],
    // The trial ended and its first charge failed: Stripe retries (past due), but nothing was ever paid for it.
    ['a paid plan outranks a trial of another that ended unpaid', [sub('pro', 'active', T0), sub('hobby', 'past_due', T0 + 5, true, false, T0 + 5, 'past_due', false)], { plan: 'pro', subscriptionStatus: 'active', planPeriodEnd: T0 + MONTH }],
    ['a plan bought last and paid for, now past due, still wins', [sub('pro', 'active', T0), sub('hobby', 'past_due', T0 + 5, true, false, T0 + 5, 'past_due', true)], { plan: 'hobby', subscriptionStatus: 'past_due', planPeriodEnd: T0 + 5 + MONTH }],
    ['the trial once the paid plan ends', [sub('pro', 'canceled', T0 + 10, true, false, T0), sub('hobby', 'trialing', T0 + 5)], { plan: 'hobby', subscriptionStatus: 'trialing', planPeriodEnd: T0 + 5 + MONTH }],
    ['the plan bought first once the one bought last stops entitling', [sub('hobby', 'active', T0 + MONTH, true, false, T0), sub('pro', 'unpaid', T0 + MONTH + 5, true, false, T0 + 5)], { plan: 'hobby', subscriptionStatus: 'active', planPeriodEnd: T0 + 2 * MONTH }],
  ] as const)('%s', (_, subs, expected) => {
    expect(planEntitlementOf(subs)).toEqual(expected);
  });
});

describe('effectivePeriodEnd: the period end, or cancel_at when it comes first', () => {
  it.each([
    [T0 + MONTH, null, T0 + MONTH],
    [T0 + MONTH, undefined, T0 + MONTH],
    [T0 + MONTH, T0 + 3 * DAY, T0 + 3 * DAY],
    [T0 + MONTH, T0 + MONTH, T0 + MONTH],
    [T0 + MONTH, T0 + 2 * MONTH, T0 + MONTH],
    [null, T0 + 3 * DAY, T0 + 3 * DAY],
    [null, null, null],
  ] as const)('period end %s, cancel_at %s → %s', (currentPeriodEnd, cancelAt, expected) => {
    expect(effectivePeriodEnd({ currentPeriodEnd, cancelAt })).toBe(expected);
  });

  it('decideSubscription keeps Stripe\'s cancel_at, and a later fact without it clears it', () => {
    const scheduled = decideSubscription(state('active', T0), facts('active', { cancelAtPeriodEnd: true, cancelAt: T0 + 3 * DAY }), T0 + DAY, planOf, 'pro');
    expect(scheduled).toMatchObject({ changed: true, next: { status: 'cancel_at_period_end', cancelAt: T0 + 3 * DAY } });
    // Moved within the same second: still a change, in either delivery order the later cancel_at wins the tie.
    const moved = decideSubscription(scheduled.next, facts('active', { cancelAtPeriodEnd: true, cancelAt: T0 + 5 * DAY }), T0 + DAY, planOf, 'pro');
    expect(moved).toMatchObject({ changed: true, next: { cancelAt: T0 + 5 * DAY } });
    const undone = decideSubscription(moved.next, facts('active'), T0 + 2 * DAY, planOf, 'pro');
    expect(undone).toMatchObject({ changed: true, next: { status: 'active', cancelAt: null } });
  });
});
