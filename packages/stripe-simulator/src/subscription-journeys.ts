/**
 * Scripted subscription journeys: what Stripe sends when Checkout starts a subscription and what
 * follows over its billing periods, in current (basil and later) shapes.
 */
import type { JourneyInput } from './payment-journeys.js';
import { event, rand, type StripeEvent } from './stripe-events.js';

export const SUBSCRIPTION_JOURNEYS = ['subscription_renew', 'subscription_past_due', 'subscription_cancel'] as const;
export type SubscriptionJourney = (typeof SUBSCRIPTION_JOURNEYS)[number];

export function isSubscriptionJourney(journey: string): journey is SubscriptionJourney {
  return (SUBSCRIPTION_JOURNEYS as readonly string[]).includes(journey);
}

/** The simulator's billing period: a month, simplified to 30 days. */
export const SUBSCRIPTION_PERIOD_S = 30 * 86_400;

export type SubscriptionJourneyInput = JourneyInput & {
  /** What the session set in `subscription_data.metadata` (the subscription and its invoices carry it). */
  subscriptionMetadata: Record<string, string>;
  priceId: string;
  productId: string;
  productName?: string;
};

/** What Settle must end with after a subscription journey. */
export type SubscriptionJourneyExpectation = {
  /** Settle's exposed subscription status. */
  subscriptionStatus: 'active' | 'past_due' | 'cancel_at_period_end' | 'canceled';
  /** Whether the user keeps the plan. */
  entitled: boolean;
  invoices: number;
  paidInvoices: number;
  orderStatus: string;
  /** The current period ends this many periods after the journey's start. */
  periodEndAfterPeriods: number;
};

export const EXPECTED_SUBSCRIPTION_OUTCOME: Record<SubscriptionJourney, SubscriptionJourneyExpectation> = {
  subscription_renew: { subscriptionStatus: 'active', entitled: true, invoices: 2, paidInvoices: 2, orderStatus: 'succeeded', periodEndAfterPeriods: 2 },
  subscription_past_due: { subscriptionStatus: 'past_due', entitled: true, invoices: 2, paidInvoices: 1, orderStatus: 'succeeded', periodEndAfterPeriods: 2 },
  subscription_cancel: { subscriptionStatus: 'canceled', entitled: false, invoices: 1, paidInvoices: 1, orderStatus: 'succeeded', periodEndAfterPeriods: 1 },
};

/** Build the objects of one subscription started through Checkout. */
function subscriptionObjects(input: SubscriptionJourneyInput) {
  const s = input.idSuffix ?? '';
  const t = input.startAt;
  const sub = rand('sub', s);
  const item = rand('si', s);
  const pm = rand('pm', s);
  const customer = input.customerId ?? null;
  const meta = { ...input.subscriptionMetadata };
  const price = {
    id: input.priceId, object: 'price', active: true, billing_scheme: 'per_unit', currency: input.currency, livemode: false,
    product: input.productId, recurring: { interval: 'month', interval_count: 1, meter: null, trial_period_days: null, usage_type: 'licensed' },
    type: 'recurring', unit_amount: input.amount, unit_amount_decimal: String(input.amount),
  };
  const subscription = (status: string, periodStart: number, extra: Record<string, unknown> = {}) => ({
    id: sub,
    object: 'subscription',
    application: null,
    billing_cycle_anchor: t,
    cancel_at: null,
    cancel_at_period_end: false,
    canceled_at: null,
    cancellation_details: { comment: null, feedback: null, reason: null },
    collection_method: 'charge_automatically',
    created: t,
    currency: input.currency,
    customer,
    default_payment_method: pm,
    ended_at: null,
    // Current API versions keep the period on the items, not on the subscription.
    items: {
      object: 'list',
      data: [{
        id: item, object: 'subscription_item', created: t, current_period_start: periodStart,
        current_period_end: periodStart + SUBSCRIPTION_PERIOD_S, metadata: {}, price, quantity: 1, subscription: sub,
      }],
      has_more: false,
      url: `/v1/subscription_items?subscription=${sub}`,
    },
    latest_invoice: null,
    livemode: false,
    metadata: meta,
    start_date: t,
    status,
    trial_end: null,
    trial_start: null,
    ...extra,
  });
  const invoice = (id: string, billingReason: 'subscription_create' | 'subscription_cycle', status: 'draft' | 'open' | 'paid', periodStart: number, at: number, attempts = 0) => ({
    id,
    object: 'invoice',
    account_country: 'US',
    amount_due: input.amount,
    amount_paid: status === 'paid' ? input.amount : 0,
    amount_remaining: status === 'paid' ? 0 : input.amount,
    attempt_count: attempts,
    attempted: attempts > 0,
    billing_reason: billingReason,
    collection_method: 'charge_automatically',
    created: periodStart,
    currency: input.currency,
    customer,
    hosted_invoice_url: status === 'draft' ? null : `https://invoice.stripe.com/i/${id}`,
    invoice_pdf: status === 'draft' ? null : `https://pay.stripe.com/invoice/${id}/pdf`,
    lines: {
      object: 'list',
      data: [{
        id: `il_${id.slice(3)}`, object: 'line_item', amount: input.amount, currency: input.currency,
        description: `1 × ${input.productName ?? input.productId} (at ${(input.amount / 100).toFixed(2)} / month)`,
        invoice: id, livemode: false, metadata: meta, period: { start: periodStart, end: periodStart + SUBSCRIPTION_PERIOD_S }, quantity: 1,
        parent: {
          type: 'subscription_item_details',
          invoice_item_details: null,
          subscription_item_details: { invoice_item: null, proration: false, proration_details: { credited_items: null }, subscription: sub, subscription_item: item },
        },
        pricing: { type: 'price_details', price_details: { price: input.priceId, product: input.productId }, unit_amount_decimal: String(input.amount) },
      }],
      has_more: false,
      url: `/v1/invoices/${id}/lines`,
    },
    livemode: false,
    metadata: {},
    next_payment_attempt: status === 'open' && attempts > 0 ? at + 3 * 86_400 : null,
    number: status === 'draft' ? null : `SIM-${id.slice(-6).toUpperCase()}`,
    parent: { type: 'subscription_details', quote_details: null, subscription_details: { metadata: meta, subscription: sub } },
    // Stripe's quirk: an invoice's own period is the one before the period its lines bill.
    period_end: periodStart,
    period_start: billingReason === 'subscription_create' ? periodStart : periodStart - SUBSCRIPTION_PERIOD_S,
    status,
    status_transitions: {
      finalized_at: status === 'draft' ? null : at,
      marked_uncollectible_at: null,
      paid_at: status === 'paid' ? at : null,
      voided_at: null,
    },
    subtotal: input.amount,
    total: input.amount,
  });
  const session = (invoiceId: string) => ({
    id: input.checkoutSessionId,
    object: 'checkout.session',
    amount_subtotal: input.amount,
    amount_total: input.amount,
    created: t,
    currency: input.currency,
    customer,
    invoice: invoiceId,
    livemode: false,
    metadata: { orderId: input.orderId },
    mode: 'subscription',
    payment_intent: null,
    payment_status: 'paid',
    status: 'complete',
    subscription: sub,
  });
  return { sub, subscription, invoice, session, first: rand('in', s), second: rand('in', s) };
}

/**
 * The events Stripe emits for a subscription journey: Checkout starts the subscription
 * (`incomplete`, first invoice paid, then `active`), then one month later it renews, falls
 * past due, or — after the customer asked to cancel at period end — ends.
 */
export function subscriptionJourneyEvents(journey: SubscriptionJourney, input: SubscriptionJourneyInput): StripeEvent[] {
  const o = subscriptionObjects(input);
  const s = input.idSuffix ?? '';
  const t = input.startAt;
  const e = (type: string, at: number, obj: Record<string, unknown>, previous?: Record<string, unknown>): StripeEvent => event(type, at, obj, s, previous);
  const started = [
    e('customer.subscription.created', t, o.subscription('incomplete', t, { latest_invoice: o.first })),
    e('invoice.created', t, o.invoice(o.first, 'subscription_create', 'draft', t, t)),
    e('invoice.finalized', t, o.invoice(o.first, 'subscription_create', 'open', t, t)),
    e('invoice.paid', t + 1, o.invoice(o.first, 'subscription_create', 'paid', t, t + 1, 1)),
    e('invoice.payment_succeeded', t + 1, o.invoice(o.first, 'subscription_create', 'paid', t, t + 1, 1)),
    e('customer.subscription.updated', t + 1, o.subscription('active', t, { latest_invoice: o.first }), { status: 'incomplete' }),
    e('checkout.session.completed', t + 1, o.session(o.first)),
  ];
  const renewal = t + SUBSCRIPTION_PERIOD_S;
  const renewed = o.subscription('active', renewal, { latest_invoice: o.second });
  const renewalHead = [
    e('invoice.created', renewal, o.invoice(o.second, 'subscription_cycle', 'draft', renewal, renewal)),
    e('customer.subscription.updated', renewal, renewed, { items: o.subscription('active', t).items, latest_invoice: o.first }),
  ];
  const charged = renewal + 3600;
  switch (journey) {
    case 'subscription_renew':
      return [
        ...started,
        ...renewalHead,
        e('invoice.finalized', charged, o.invoice(o.second, 'subscription_cycle', 'open', renewal, charged)),
        e('invoice.paid', charged, o.invoice(o.second, 'subscription_cycle', 'paid', renewal, charged, 1)),
        e('invoice.payment_succeeded', charged, o.invoice(o.second, 'subscription_cycle', 'paid', renewal, charged, 1)),
      ];
    case 'subscription_past_due':
      return [
        ...started,
        ...renewalHead,
        e('invoice.finalized', charged, o.invoice(o.second, 'subscription_cycle', 'open', renewal, charged)),
        e('invoice.payment_failed', charged, o.invoice(o.second, 'subscription_cycle', 'open', renewal, charged, 1)),
        e('customer.subscription.updated', charged, o.subscription('past_due', renewal, { latest_invoice: o.second }), { status: 'active' }),
      ];
    case 'subscription_cancel': {
      const asked = t + 10 * 86_400;
      const cancelAt = t + SUBSCRIPTION_PERIOD_S;
      const scheduled = { latest_invoice: o.first, cancel_at: cancelAt, cancel_at_period_end: true, canceled_at: asked, cancellation_details: { comment: null, feedback: 'too_expensive', reason: 'cancellation_requested' } };
      return [
        ...started,
        e('customer.subscription.updated', asked, o.subscription('active', t, scheduled), { cancel_at: null, cancel_at_period_end: false, canceled_at: null }),
        e('customer.subscription.deleted', cancelAt, o.subscription('canceled', t, { ...scheduled, ended_at: cancelAt })),
      ];
    }
  }
}
