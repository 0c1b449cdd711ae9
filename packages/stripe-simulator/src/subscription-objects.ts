/**
 * The Stripe objects of one subscription started through Checkout, in current (basil,
 * 2025-03-31 and later) shapes: the period sits on the subscription's items; an invoice names its
 * subscription under `parent.subscription_details`; PaymentIntents and charges do not name their
 * invoice: an `invoice_payment` links the two.
 */
import type { JourneyInput } from './payment-journeys.js';
import { rand } from './stripe-events.js';

/** The simulator's billing period: a month, simplified to 30 days. */
export const SUBSCRIPTION_PERIOD_S = 30 * 86_400;

/** A recurring price as a journey uses it. */
export type PlanPrice = { id: string; product: string; amount: number; name: string };

export type SubscriptionJourneyInput = JourneyInput & {
  /** What the session set in `subscription_data.metadata` (the subscription and its invoices carry it). */
  subscriptionMetadata: Record<string, string>;
  priceId: string;
  productId: string;
  productName?: string;
  /** `subscription_data.trial_period_days`; trial journeys use 14 days without it. */
  trialDays?: number | null;
  /** Where an upgrade or downgrade moves the item (default: a made-up price at twice or half the amount). */
  targetPrice?: PlanPrice;
  /**
   * An add-on (seats, support) the customer adds in the portal during the first period: from the
   * first renewal on it is the subscription's first item, before the plan, and each renewal
   * invoice bills it on its own line, first. Checkout's first invoice never has it.
   */
  addOn?: PlanPrice;
  /**
   * The ids of a subscription that already exists (the simulator's own API acting on a stored
   * one, e.g. a resume or a hosted invoice payment); without them a journey makes new ones.
   * `paymentMethod` null: none on file.
   */
  ids?: { subscription: string; item: string; paymentMethod: string | null };
};

type Obj = Record<string, unknown>;

/** One invoice line: a price over a period (negative for unused time credited by a proration). */
export type InvoiceLine = { amount: number; price: PlanPrice; start: number; end: number; proration?: boolean; description?: string };

export function subscriptionObjects(input: SubscriptionJourneyInput) {
  const s = input.idSuffix ?? '';
  const t = input.startAt;
  const sub = input.ids?.subscription ?? rand('sub', s);
  const item = input.ids?.item ?? rand('si', s);
  const pm = input.ids ? input.ids.paymentMethod : rand('pm', s);
  const customer = input.customerId ?? null;
  const meta = { ...input.subscriptionMetadata };
  const currency = input.currency;
  const plan: PlanPrice = { id: input.priceId, product: input.productId, amount: input.amount, name: input.productName ?? input.productId };

  const price = (p: PlanPrice) => ({
    id: p.id, object: 'price', active: true, billing_scheme: 'per_unit', currency, livemode: false, product: p.product,
    recurring: { interval: 'month', interval_count: 1, meter: null, trial_period_days: null, usage_type: 'licensed' },
    type: 'recurring', unit_amount: p.amount, unit_amount_decimal: String(p.amount),
  });

  const addOn = input.addOn;
  const addOnItem = `${item}_addon`;
  const itemOf = (p: PlanPrice) => (addOn && p.id === addOn.id ? addOnItem : item);
  const items = (p: PlanPrice, periodStart: number, periodEnd = periodStart + SUBSCRIPTION_PERIOD_S) => ({
    object: 'list',
    data: [...(addOn && periodStart > t ? [addOn] : []), p].map((q) => ({
      id: itemOf(q), object: 'subscription_item', created: t, current_period_start: periodStart, current_period_end: periodEnd,
      metadata: {}, price: price(q), quantity: 1, subscription: sub,
    })),
    has_more: false,
    url: `/v1/subscription_items?subscription=${sub}`,
  });

  /** The subscription; current API versions keep its period on the items only. */
  const subscription = (status: string, o: { price?: PlanPrice; periodStart: number; periodEnd?: number } & Obj) => {
    const { price: p = plan, periodStart, periodEnd, ...extra } = o;
    return {
      id: sub, object: 'subscription', application: null, billing_cycle_anchor: t, cancel_at: null, cancel_at_period_end: false,
      canceled_at: null, cancellation_details: { comment: null, feedback: null, reason: null }, collection_method: 'charge_automatically',
      created: t, currency, customer, default_payment_method: pm, discounts: [], ended_at: null,
      items: items(p, periodStart, periodEnd), latest_invoice: null, livemode: false, metadata: meta, start_date: t, status,
      trial_end: null, trial_start: null, ...extra,
    };
  };

  const line = (invoiceId: string, l: InvoiceLine, n: number) => ({
    id: `il_${invoiceId.slice(3)}_${n}`, object: 'line_item', amount: l.amount, currency,
    description: l.description ?? `1 × ${l.price.name} (at ${(l.price.amount / 100).toFixed(2)} / month)`,
    discount_amounts: [], discountable: true, invoice: invoiceId, livemode: false, metadata: meta,
    period: { start: l.start, end: l.end }, quantity: 1,
    parent: {
      type: 'subscription_item_details', invoice_item_details: null,
      subscription_item_details: { invoice_item: null, proration: l.proration ?? false, proration_details: { credited_items: null }, subscription: sub, subscription_item: itemOf(l.price) },
    },
    pricing: { type: 'price_details', price_details: { price: l.price.id, product: l.price.product }, unit_amount_decimal: String(l.price.amount) },
  });

  /**
   * An invoice of the subscription. `lines` default to one period of `price`; a renewal
   * (`subscription_cycle`) also bills the add-on, if any, on a first line for its newest period;
   * `discount` takes that much off (a coupon); the amount due is never below zero.
   */
  const invoice = (o: {
    id: string;
    reason: 'subscription_create' | 'subscription_cycle' | 'subscription_update';
    status: 'draft' | 'open' | 'paid';
    periodStart: number;
    at: number;
    attempts?: number;
    price?: PlanPrice;
    lines?: InvoiceLine[];
    discount?: number;
    nextAttempt?: number | null;
  }) => {
    const p = o.price ?? plan;
    const planLines = o.lines ?? [{ amount: p.amount, price: p, start: o.periodStart, end: o.periodStart + SUBSCRIPTION_PERIOD_S }];
    const billed = planLines.filter((l) => l.amount >= 0).sort((a, b) => b.end - a.end)[0];
    const lines = addOn && billed && o.reason === 'subscription_cycle'
      ? [{ amount: addOn.amount, price: addOn, start: billed.start, end: billed.end, description: `1 × ${addOn.name} (add-on, at ${(addOn.amount / 100).toFixed(2)} / month)` }, ...planLines]
      : planLines;
    const subtotal = lines.reduce((sum, l) => sum + l.amount, 0);
    const discount = Math.min(o.discount ?? 0, Math.max(subtotal, 0));
    const total = subtotal - discount;
    const due = Math.max(total, 0);
    const attempts = o.attempts ?? 0;
    return {
      id: o.id, object: 'invoice', account_country: 'US', amount_due: due, amount_paid: o.status === 'paid' ? due : 0,
      amount_remaining: o.status === 'paid' ? 0 : due, attempt_count: attempts, attempted: attempts > 0, billing_reason: o.reason,
      collection_method: 'charge_automatically', created: o.periodStart, currency, customer,
      discounts: discount > 0 ? [`di_${o.id.slice(3)}`] : [],
      hosted_invoice_url: o.status === 'draft' ? null : `https://invoice.stripe.com/i/${o.id}`,
      invoice_pdf: o.status === 'draft' ? null : `https://pay.stripe.com/invoice/${o.id}/pdf`,
      lines: { object: 'list', data: lines.map((l, n) => line(o.id, l, n)), has_more: false, url: `/v1/invoices/${o.id}/lines` },
      livemode: false, metadata: {},
      next_payment_attempt: o.nextAttempt !== undefined ? o.nextAttempt : o.status === 'open' && attempts > 0 ? o.at + 3 * 86_400 : null,
      number: o.status === 'draft' ? null : `SIM-${o.id.slice(-6).toUpperCase()}`,
      parent: { type: 'subscription_details', quote_details: null, subscription_details: { metadata: meta, subscription: sub } },
      // Stripe's quirk: an invoice's own period is the one before the period its lines bill.
      period_end: o.periodStart,
      period_start: o.reason === 'subscription_cycle' ? o.periodStart - SUBSCRIPTION_PERIOD_S : o.periodStart,
      status: o.status,
      status_transitions: { finalized_at: o.status === 'draft' ? null : o.at, marked_uncollectible_at: null, paid_at: o.status === 'paid' ? o.at : null, voided_at: null },
      subtotal, total,
      total_discount_amounts: discount > 0 ? [{ amount: discount, discount: `di_${o.id.slice(3)}` }] : [],
    };
  };

  /** The PaymentIntent that collects an invoice, its charges (one per attempt), and the invoice payment linking them. */
  const collection = (invoiceId: string, amount: number, createdAt: number, description: string) => {
    const pi = rand('pi', s);
    const ip = rand('inpay', s);
    const intent = (status: string, o: { charge?: string | null; error?: Obj | null } = {}) => ({
      id: pi, object: 'payment_intent', amount, amount_capturable: 0, amount_received: status === 'succeeded' ? amount : 0,
      capture_method: 'automatic', confirmation_method: 'automatic', created: createdAt, currency, customer, description,
      last_payment_error: o.error ?? null, latest_charge: o.charge ?? null, livemode: false, metadata: {}, next_action: null,
      payment_method: pm, payment_method_types: ['card'], status,
    });
    const charge = (id: string, status: 'succeeded' | 'failed', at: number, extra: Obj = {}) => ({
      id, object: 'charge', amount, amount_captured: status === 'succeeded' ? amount : 0, amount_refunded: 0,
      captured: status === 'succeeded', created: at, currency, customer, description, disputed: false,
      failure_code: status === 'failed' ? 'card_declined' : null, livemode: false, metadata: {}, paid: status === 'succeeded',
      payment_intent: pi, payment_method: pm, refunded: false, status, ...extra,
    });
    const invoicePayment = (status: 'open' | 'paid', at: number) => ({
      id: ip, object: 'invoice_payment', amount_paid: status === 'paid' ? amount : null, amount_requested: amount, created: createdAt,
      currency, invoice: invoiceId, is_default: true, livemode: false, payment: { type: 'payment_intent', payment_intent: pi },
      status, status_transitions: { canceled_at: null, paid_at: status === 'paid' ? at : null },
    });
    return { pi, intent, charge, invoicePayment, newCharge: () => rand('ch', s) };
  };

  return { sub, plan, t, subscription, invoice, collection, items, newInvoice: () => rand('in', s), newId: (prefix: string) => rand(prefix, s) };
}

export type SubscriptionObjects = ReturnType<typeof subscriptionObjects>;
