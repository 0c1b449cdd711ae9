import type { StripeEventLike } from '../stripe-event.mapper.js';
import type { SubscriptionStatus } from '../subscription-state.js';

/**
 * Whole subscription lifecycles as Stripe (API version 2025-03-31 "basil" and later) emits
 * them: the period on the subscription's items, the subscription on the invoice's `parent`, the
 * price on the line's `pricing`, PaymentIntents and charges that do not name their invoice, and
 * `invoice_payment.paid` linking each invoice to the PaymentIntent that paid it. For property
 * tests (pure and through the API): any delivery order and duplication must end as `expected`.
 */

export const LIFECYCLES = [
  'renewals',
  'upgrade',
  'downgrade',
  'dunning_unpaid',
  'dunning_recovered',
  'cancel',
  'refund_renewal',
  'refund_renewal_failed',
  'dispute_lost',
  'dispute_won',
  'trial_active',
  'trial_canceled',
  'free_first_period',
  'unknown_price',
] as const;
export type Lifecycle = (typeof LIFECYCLES)[number];

export const PERIOD_S = 30 * 86_400;
/** The API version these shapes are from. */
export const API_VERSION = '2025-03-31.basil';

export type LifecycleInput = {
  orderId: string;
  userId: string;
  /** Makes every Stripe id unique to this run. */
  suffix: string;
  t0: number;
  customerId?: string;
  /** Catalogue prices: the plan bought (`from`), the one changed to (`to`). */
  prices?: { from: { id: string; amount: number }; to: { id: string; amount: number } };
  currency?: string;
  /** Renewals in `renewals` (1 or more). */
  renewals?: number;
  /** The order's Checkout Session (default: one made up). */
  checkoutSessionId?: string;
};

export type LifecycleExpectation = {
  /** The plan the Checkout bought (the order's product). */
  startPlan: string;
  subscriptionStatus: SubscriptionStatus;
  /** The plan `entitlements.get` reports in the end (null: taken). */
  plan: string | null;
  /** The plan the subscription itself is on (kept even when the money went back). */
  subscriptionPlan: string;
  /** The subscription waits for review (a price not in the catalogue). */
  review: boolean;
  invoices: number;
  paidInvoices: number;
};

export type BuiltLifecycle = {
  subscriptionId: string;
  events: StripeEventLike[];
  expected: LifecycleExpectation;
};

type O = Record<string, unknown>;

/** Build a lifecycle's events (in Stripe's order) and what Settle must end with. */
export function buildLifecycle(lifecycle: Lifecycle, input: LifecycleInput, plans: { from: string; to: string } = { from: 'hobby', to: 'pro' }): BuiltLifecycle {
  const s = input.suffix;
  const t0 = input.t0;
  const currency = input.currency ?? 'usd';
  const customer = input.customerId ?? `cus_${s}`;
  const given = input.prices ?? { from: { id: 'price_hobby_monthly', amount: 999 }, to: { id: 'price_pro_monthly', amount: 1999 } };
  // A downgrade starts on the dearer plan and moves to the cheaper one.
  const down = lifecycle === 'downgrade';
  const prices = down ? { from: given.to, to: given.from } : given;
  plans = down ? { from: plans.to, to: plans.from } : plans;
  const sub = `sub_${s}`;
  const meta = { orderId: input.orderId, userId: input.userId };
  let seq = 0;
  const events: StripeEventLike[] = [];
  const emit = (type: string, created: number, object: O) => {
    events.push({ id: `evt_${s}_${++seq}`, object: 'event', api_version: API_VERSION, livemode: false, type, created, data: { object } } as StripeEventLike);
  };

  const subscription = (status: string, periodStart: number, price: { id: string }, extra: O = {}): O => ({
    id: sub, object: 'subscription', customer, status, cancel_at_period_end: false, cancel_at: null, canceled_at: null,
    collection_method: 'charge_automatically', created: t0, currency, metadata: meta, latest_invoice: null, trial_end: null, trial_start: null,
    items: {
      object: 'list', has_more: false,
      data: [{ id: `si_${s}`, object: 'subscription_item', current_period_start: periodStart, current_period_end: periodStart + PERIOD_S, price: { id: price.id, object: 'price', unit_amount: 0, currency }, quantity: 1 }],
    },
    ...extra,
  });
  const invoice = (id: string, reason: string, status: string, o: { amount: number; periodStart: number; periodEnd?: number; price: string; attempts?: number; paidAt?: number | null; lines?: O[] }): O => ({
    id, object: 'invoice', customer, currency, billing_reason: reason, status, created: o.periodStart,
    amount_due: o.amount, amount_paid: status === 'paid' ? o.amount : 0, amount_remaining: status === 'paid' ? 0 : o.amount,
    attempt_count: o.attempts ?? (status === 'paid' ? 1 : 0), number: status === 'draft' ? null : `N-${id}`,
    hosted_invoice_url: status === 'draft' ? null : `https://invoice.stripe.com/i/${id}`, invoice_pdf: null, metadata: {},
    parent: { type: 'subscription_details', quote_details: null, subscription_details: { metadata: meta, subscription: sub } },
    status_transitions: { finalized_at: status === 'draft' ? null : o.periodStart, paid_at: status === 'paid' ? o.paidAt ?? o.periodStart : null, marked_uncollectible_at: null, voided_at: null },
    lines: {
      object: 'list', has_more: false,
      data: o.lines ?? [{
        id: `il_${id}`, object: 'line_item', amount: o.amount, currency, period: { start: o.periodStart, end: o.periodEnd ?? o.periodStart + PERIOD_S },
        parent: { type: 'subscription_item_details', subscription_item_details: { subscription: sub, subscription_item: `si_${s}`, proration: false } },
        pricing: { type: 'price_details', price_details: { price: o.price, product: `prod_${o.price}` } },
      }],
    },
  });
  const invoicePayment = (invoiceId: string, pi: string, at: number): O => ({
    id: `inpay_${invoiceId}`, object: 'invoice_payment', invoice: invoiceId, amount_paid: 0, amount_requested: 0, currency, is_default: true,
    payment: { type: 'payment_intent', payment_intent: pi }, status: 'paid', status_transitions: { paid_at: at, canceled_at: null }, created: at,
  });
  /** An invoice paid by a PaymentIntent: `invoice.paid`, its `invoice_payment.paid` and the intent's success (no `invoice` on it). */
  const paidInvoice = (n: number, reason: string, at: number, o: Parameters<typeof invoice>[3]) => {
    const id = `in_${s}_${n}`;
    const pi = `pi_${s}_${n}`;
    emit('invoice.finalized', at, invoice(id, reason, 'open', { ...o, attempts: 0 }));
    emit('payment_intent.succeeded', at, { id: pi, object: 'payment_intent', amount: o.amount, amount_received: o.amount, currency, customer, status: 'succeeded', metadata: {}, latest_charge: `ch_${s}_${n}` });
    emit('invoice_payment.paid', at, invoicePayment(id, pi, at));
    emit('invoice.paid', at, invoice(id, reason, 'paid', { ...o, paidAt: at }));
    return { id, pi, charge: `ch_${s}_${n}` };
  };
  const failedInvoice = (n: number, reason: string, at: number, attempts: number, o: Parameters<typeof invoice>[3]) => {
    const id = `in_${s}_${n}`;
    if (attempts === 1) emit('invoice.finalized', at, invoice(id, reason, 'open', { ...o, attempts: 0 }));
    emit('invoice.payment_failed', at, invoice(id, reason, 'open', { ...o, attempts }));
    return id;
  };

  let invoices = 0;
  let paid = 0;
  let plan: string | null = plans.from;
  let subscriptionPlan = plans.from;
  let status: SubscriptionStatus = 'active';
  let review = false;
  const from = prices.from;
  const to = prices.to;
  const trial = lifecycle === 'trial_active' || lifecycle === 'trial_canceled';
  const free = lifecycle === 'free_first_period';

  // Checkout starts the subscription.
  if (free) {
    // A coupon takes the whole first period off: Stripe starts the subscription `active` (not a
    // trial), and its first invoice, paid at $0 with no PaymentIntent, comes a second later.
    emit('customer.subscription.created', t0, subscription('active', t0, from, { discounts: [`di_${s}`] }));
    emit('invoice.paid', t0 + 1, invoice(`in_${s}_1`, 'subscription_create', 'paid', { amount: 0, periodStart: t0, price: from.id, attempts: 0 }));
  } else if (trial) {
    // A trial's first invoice is $0 and has no PaymentIntent behind it.
    emit('customer.subscription.created', t0, subscription('trialing', t0, from, { trial_start: t0, trial_end: t0 + PERIOD_S }));
    emit('invoice.paid', t0, invoice(`in_${s}_1`, 'subscription_create', 'paid', { amount: 0, periodStart: t0, price: from.id, attempts: 0 }));
    status = 'trialing';
  } else {
    emit('customer.subscription.created', t0, subscription('incomplete', t0, from));
    paidInvoice(1, 'subscription_create', t0 + 1, { amount: from.amount, periodStart: t0, price: from.id });
    emit('customer.subscription.updated', t0 + 1, subscription('active', t0, from));
  }
  invoices += 1;
  paid += 1;
  emit('checkout.session.completed', t0 + 1, {
    id: input.checkoutSessionId ?? `cs_${s}`, object: 'checkout.session', mode: 'subscription', status: 'complete', payment_status: trial || free ? 'no_payment_required' : 'paid',
    amount_total: trial || free ? 0 : from.amount, currency, customer, subscription: sub, payment_intent: null, metadata: { orderId: input.orderId },
  });

  const t1 = t0 + PERIOD_S;
  const renew = (n: number, periodStart: number, price: { id: string; amount: number }) => {
    paidInvoice(n, 'subscription_cycle', periodStart + 60, { amount: price.amount, periodStart, price: price.id });
    emit('customer.subscription.updated', periodStart, subscription('active', periodStart, price));
    invoices += 1;
    paid += 1;
  };

  switch (lifecycle) {
    case 'renewals': {
      const n = Math.max(1, input.renewals ?? 2);
      for (let i = 1; i <= n; i++) renew(i + 1, t0 + i * PERIOD_S, from);
      break;
    }
    case 'upgrade':
    case 'downgrade': {
      // The item moves to the other price mid-period. An upgrade is invoiced at once (the
      // proration: a credit for the old price, a charge for the new); a downgrade's credit
      // goes to the customer's balance, with no invoice.
      const at = t0 + 10 * 86_400;
      emit('customer.subscription.updated', at, subscription('active', t0, to));
      if (!down) {
        paidInvoice(2, 'subscription_update', at, {
          amount: to.amount - from.amount, periodStart: at, periodEnd: t1, price: to.id,
          lines: [
            { id: `il_${s}_credit`, amount: -from.amount, currency, period: { start: at, end: t1 }, parent: { type: 'subscription_item_details' }, pricing: { price_details: { price: from.id } } },
            { id: `il_${s}_charge`, amount: to.amount, currency, period: { start: at, end: t1 }, parent: { type: 'subscription_item_details' }, pricing: { price_details: { price: to.id } } },
          ],
        });
        invoices += 1;
        paid += 1;
      }
      renew(3, t1, to);
      plan = plans.to;
      subscriptionPlan = plans.to;
      break;
    }
    case 'dunning_unpaid':
    case 'dunning_recovered': {
      emit('customer.subscription.updated', t1, subscription('active', t1, from));
      failedInvoice(2, 'subscription_cycle', t1 + 60, 1, { amount: from.amount, periodStart: t1, price: from.id });
      emit('customer.subscription.updated', t1 + 60, subscription('past_due', t1, from));
      failedInvoice(2, 'subscription_cycle', t1 + 3 * 86_400, 2, { amount: from.amount, periodStart: t1, price: from.id });
      invoices += 1;
      if (lifecycle === 'dunning_unpaid') {
        // Retries exhausted: Stripe leaves the invoice open and marks the subscription unpaid.
        emit('customer.subscription.updated', t1 + 7 * 86_400, subscription('unpaid', t1, from));
        status = 'unpaid';
        plan = null;
      } else {
        paidInvoice(2, 'subscription_cycle', t1 + 5 * 86_400, { amount: from.amount, periodStart: t1, price: from.id, attempts: 3 });
        emit('customer.subscription.updated', t1 + 5 * 86_400, subscription('active', t1, from));
        paid += 1;
      }
      break;
    }
    case 'cancel': {
      const asked = t0 + 5 * 86_400;
      emit('customer.subscription.updated', asked, subscription('active', t0, from, { cancel_at_period_end: true, cancel_at: t1, canceled_at: asked }));
      emit('customer.subscription.deleted', t1, subscription('canceled', t0, from, { cancel_at_period_end: true, cancel_at: t1, canceled_at: asked, ended_at: t1 }));
      status = 'canceled';
      plan = null;
      break;
    }
    case 'refund_renewal':
    case 'refund_renewal_failed':
    case 'dispute_lost':
    case 'dispute_won': {
      renew(2, t1, from);
      const pi = `pi_${s}_2`;
      const charge = `ch_${s}_2`;
      const later = t1 + 5 * 86_400;
      if (lifecycle === 'refund_renewal' || lifecycle === 'refund_renewal_failed') {
        const refund = (st: string) => ({
          id: `re_${s}`, object: 'refund', amount: from.amount, currency, charge, payment_intent: pi, status: st, reason: 'requested_by_customer',
          failure_reason: st === 'failed' ? 'expired_or_canceled_card' : null, created: later, metadata: {},
        });
        const refunded = (amount: number) => ({ id: charge, object: 'charge', amount: from.amount, amount_refunded: amount, currency, payment_intent: pi, refunded: amount >= from.amount, status: 'succeeded', metadata: {} });
        if (lifecycle === 'refund_renewal') {
          emit('charge.refunded', later, refunded(from.amount));
          plan = null;
        } else {
          // Refunded in full, then the card turns out closed: the refund fails days later, Stripe
          // gives the charge its money back, and the plan returns.
          emit('refund.created', later, refund('pending'));
          emit('charge.refunded', later, refunded(from.amount));
          emit('refund.failed', later + 2 * 86_400, refund('failed'));
          emit('refund.updated', later + 2 * 86_400, refund('failed'));
          emit('charge.refund.updated', later + 2 * 86_400, refund('failed'));
        }
      } else {
        const dispute = (st: string) => ({ id: `dp_${s}`, object: 'dispute', amount: from.amount, currency, charge, payment_intent: pi, status: st, reason: 'fraudulent' });
        emit('charge.dispute.created', later, dispute('needs_response'));
        emit('charge.dispute.closed', later + 20 * 86_400, dispute(lifecycle === 'dispute_lost' ? 'lost' : 'won'));
        if (lifecycle === 'dispute_lost') plan = null;
      }
      break;
    }
    case 'trial_active': {
      // The trial ends: the first real invoice is paid and the subscription becomes active.
      paidInvoice(2, 'subscription_cycle', t1 + 60, { amount: from.amount, periodStart: t1, price: from.id });
      emit('customer.subscription.updated', t1, subscription('active', t1, from));
      invoices += 1;
      paid += 1;
      status = 'active';
      break;
    }
    case 'trial_canceled': {
      // The trial ends unpaid: Stripe tries, the subscription falls past due, then Stripe cancels it.
      emit('customer.subscription.trial_will_end', t1 - 3 * 86_400, subscription('trialing', t0, from, { trial_start: t0, trial_end: t1 }));
      failedInvoice(2, 'subscription_cycle', t1 + 60, 1, { amount: from.amount, periodStart: t1, price: from.id });
      emit('customer.subscription.updated', t1 + 60, subscription('past_due', t1, from));
      emit('customer.subscription.deleted', t1 + 7 * 86_400, subscription('canceled', t1, from, { ended_at: t1 + 7 * 86_400 }));
      invoices += 1;
      status = 'canceled';
      plan = null;
      break;
    }
    case 'free_first_period':
      // The journey ends within the free period: nothing after the first invoice says `active` again.
      break;
    case 'unknown_price': {
      emit('customer.subscription.updated', t0 + 10 * 86_400, subscription('active', t0, { id: `price_unknown_${s}` }));
      review = true;
      break;
    }
  }
  return { subscriptionId: sub, events, expected: { startPlan: plans.from, subscriptionStatus: status, plan, subscriptionPlan, review, invoices, paidInvoices: paid } };
}
