/**
 * Scripted customer journeys: the Stripe events a real Checkout purchase emits, in Stripe's own
 * interleaving, with realistic objects (shaped like Stripe's OpenAPI fixtures). Used by the
 * simulator to deliver webhooks and by tests as the source of truth for "what Stripe sends".
 */

export const PAYMENT_JOURNEYS = [
  'card_success',
  'three_d_secure',
  'decline_then_success',
  'async_success',
  'async_failure',
  'session_expired',
  'partial_refund',
  'full_refund',
  'dispute_won',
  'dispute_lost',
] as const;
export type PaymentJourney = (typeof PAYMENT_JOURNEYS)[number];

export type StripeEvent = {
  id: string;
  object: 'event';
  api_version: string;
  created: number;
  livemode: false;
  pending_webhooks: number;
  request: { id: string | null; idempotency_key: string | null };
  type: string;
  data: { object: Record<string, unknown>; previous_attributes?: Record<string, unknown> };
};

export type JourneyInput = {
  orderId: string;
  /** The Checkout Session the order was created with. */
  checkoutSessionId: string;
  amount: number;
  currency: string;
  customerId?: string | null;
  /** Epoch seconds of the first event. */
  startAt: number;
  /** Makes ids unique across journeys; defaults to a counter. */
  idSuffix?: string;
  /** Amount actually charged when it differs from the order (a tampered or wrong price). */
  chargedAmount?: number;
};

/** What Settle must end with after a journey, per handler. */
export type JourneyExpectation = { status: string; grants: number; revoked: boolean; invoice: boolean };

export const EXPECTED_OUTCOME: Record<PaymentJourney, { new: JourneyExpectation; legacy: JourneyExpectation }> = {
  card_success: same({ status: 'succeeded', grants: 1, revoked: false, invoice: true }),
  three_d_secure: same({ status: 'succeeded', grants: 1, revoked: false, invoice: true }),
  decline_then_success: same({ status: 'succeeded', grants: 1, revoked: false, invoice: true }),
  async_success: same({ status: 'succeeded', grants: 1, revoked: false, invoice: true }),
  // The bug Settle exists to fix: legacy grants on an unpaid async Checkout and keeps it.
  async_failure: {
    new: { status: 'failed', grants: 0, revoked: false, invoice: false },
    legacy: { status: 'succeeded', grants: 1, revoked: false, invoice: false },
  },
  session_expired: same({ status: 'canceled', grants: 0, revoked: false, invoice: false }),
  partial_refund: same({ status: 'partially_refunded', grants: 1, revoked: true, invoice: true }),
  full_refund: same({ status: 'refunded', grants: 1, revoked: true, invoice: true }),
  dispute_won: same({ status: 'succeeded', grants: 1, revoked: false, invoice: true }),
  dispute_lost: same({ status: 'charged_back', grants: 1, revoked: true, invoice: true }),
};

function same(e: JourneyExpectation) {
  return { new: e, legacy: e };
}

export const SIMULATOR_API_VERSION = '2026-10-28.endive';
let counter = 0;

function rand(prefix: string, suffix: string): string {
  counter += 1;
  return `${prefix}_sim${suffix}${counter.toString(36).padStart(6, '0')}`;
}

/** Build the objects of one purchase; each journey mutates copies as the payment moves. */
function purchase(input: JourneyInput) {
  const s = input.idSuffix ?? '';
  const pi = rand('pi', s);
  const charge = rand('ch', s);
  const pm = rand('pm', s);
  const charged = input.chargedAmount ?? input.amount;
  const intent = (status: string, extra: Record<string, unknown> = {}) => ({
    id: pi,
    object: 'payment_intent',
    amount: charged,
    amount_capturable: 0,
    amount_received: status === 'succeeded' ? charged : 0,
    capture_method: 'automatic_async',
    client_secret: `${pi}_secret_sim`,
    confirmation_method: 'automatic',
    created: input.startAt,
    currency: input.currency,
    customer: input.customerId ?? null,
    description: null,
    last_payment_error: null,
    latest_charge: status === 'succeeded' ? charge : null,
    livemode: false,
    metadata: { orderId: input.orderId },
    next_action: null,
    payment_method: pm,
    payment_method_types: ['card'],
    status,
    ...extra,
  });
  const chargeObj = (status: string, extra: Record<string, unknown> = {}) => ({
    id: charge,
    object: 'charge',
    amount: charged,
    amount_captured: status === 'succeeded' ? charged : 0,
    amount_refunded: 0,
    captured: status === 'succeeded',
    created: input.startAt,
    currency: input.currency,
    customer: input.customerId ?? null,
    disputed: false,
    livemode: false,
    metadata: {},
    paid: status === 'succeeded',
    payment_intent: pi,
    payment_method: pm,
    refunded: false,
    status,
    ...extra,
  });
  const session = (status: string, paymentStatus: string, withIntent: boolean) => ({
    id: input.checkoutSessionId,
    object: 'checkout.session',
    amount_subtotal: input.amount,
    amount_total: input.amount,
    client_reference_id: null,
    created: input.startAt,
    currency: input.currency,
    customer: input.customerId ?? null,
    customer_details: { email: 'buyer@example.com', name: null },
    expires_at: input.startAt + 86_400,
    invoice: null,
    invoice_creation: { enabled: true, invoice_data: { metadata: { orderId: input.orderId } } },
    livemode: false,
    metadata: { orderId: input.orderId },
    mode: 'payment',
    payment_intent: withIntent ? pi : null,
    payment_method_types: ['card'],
    payment_status: paymentStatus,
    status,
    url: status === 'open' ? `https://checkout.stripe.com/c/pay/${input.checkoutSessionId}` : null,
  });
  const inv = rand('in', s);
  const invoice = (status: 'open' | 'paid', at: number) => ({
    id: inv,
    object: 'invoice',
    amount_due: input.amount,
    amount_paid: status === 'paid' ? input.amount : 0,
    amount_remaining: status === 'paid' ? 0 : input.amount,
    billing_reason: 'manual',
    collection_method: 'charge_automatically',
    created: at,
    currency: input.currency,
    customer: input.customerId ?? null,
    hosted_invoice_url: `https://invoice.stripe.com/i/${inv}`,
    invoice_pdf: `https://pay.stripe.com/invoice/${inv}/pdf`,
    livemode: false,
    metadata: { orderId: input.orderId },
    number: `SIM-${inv.slice(-6).toUpperCase()}`,
    parent: null,
    status,
    status_transitions: { finalized_at: at, paid_at: status === 'paid' ? at : null, marked_uncollectible_at: null, voided_at: null },
    total: input.amount,
  });
  return { pi, charge, intent, chargeObj, session, invoice, charged };
}

function event(type: string, created: number, object: Record<string, unknown>, suffix: string): StripeEvent {
  return {
    id: rand('evt', suffix),
    object: 'event',
    api_version: SIMULATOR_API_VERSION,
    created,
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
    data: { object },
  };
}

/**
 * The events Stripe emits for a journey, in the order Stripe would typically send them. Events
 * that happen in the same second share `created`, as they do at Stripe.
 */
export function journeyEvents(journey: PaymentJourney, input: JourneyInput): StripeEvent[] {
  const p = purchase(input);
  const s = input.idSuffix ?? '';
  const t = input.startAt;
  const e = (type: string, at: number, obj: Record<string, unknown>) => event(type, at, obj, s);
  const paidCard = (at: number): StripeEvent[] => [
    e('charge.succeeded', at, p.chargeObj('succeeded', { created: at })),
    e('payment_intent.succeeded', at, p.intent('succeeded')),
    e('charge.updated', at, p.chargeObj('succeeded', { created: at })),
    e('checkout.session.completed', at, p.session('complete', 'paid', true)),
    e('invoice.finalized', at + 1, p.invoice('open', at + 1)),
    e('invoice.paid', at + 1, p.invoice('paid', at + 1)),
  ];
  const card = (): StripeEvent[] => [e('payment_intent.created', t, p.intent('requires_payment_method')), ...paidCard(t + 1)];

  switch (journey) {
    case 'card_success':
      return card();
    case 'three_d_secure':
      return [
        e('payment_intent.created', t, p.intent('requires_payment_method')),
        e('payment_intent.requires_action', t + 1, p.intent('requires_action', { next_action: { type: 'use_stripe_sdk' } })),
        ...paidCard(t + 20),
      ];
    case 'decline_then_success':
      return [
        e('payment_intent.created', t, p.intent('requires_payment_method')),
        e('charge.failed', t + 1, p.chargeObj('failed', { failure_code: 'card_declined' })),
        e('payment_intent.payment_failed', t + 1, p.intent('requires_payment_method', {
          last_payment_error: { type: 'card_error', code: 'card_declined', decline_code: 'insufficient_funds', message: 'Your card has insufficient funds.' },
        })),
        ...paidCard(t + 30),
      ];
    case 'async_success':
    case 'async_failure': {
      const later = t + 3 * 86_400;
      const head: StripeEvent[] = [
        e('payment_intent.created', t, p.intent('requires_payment_method', { payment_method_types: ['sepa_debit'] })),
        e('payment_intent.processing', t + 1, p.intent('processing', { payment_method_types: ['sepa_debit'] })),
        e('charge.pending', t + 1, p.chargeObj('pending')),
        e('checkout.session.completed', t + 1, p.session('complete', 'unpaid', true)),
      ];
      if (journey === 'async_success') {
        return [
          ...head,
          e('charge.succeeded', later, p.chargeObj('succeeded')),
          e('payment_intent.succeeded', later, p.intent('succeeded', { payment_method_types: ['sepa_debit'] })),
          e('checkout.session.async_payment_succeeded', later, p.session('complete', 'paid', true)),
          e('invoice.finalized', later + 1, p.invoice('open', later + 1)),
          e('invoice.paid', later + 1, p.invoice('paid', later + 1)),
        ];
      }
      return [
        ...head,
        e('charge.failed', later, p.chargeObj('failed', { failure_code: 'insufficient_funds' })),
        e('payment_intent.payment_failed', later, p.intent('requires_payment_method', {
          payment_method_types: ['sepa_debit'],
          last_payment_error: { type: 'invalid_request_error', code: 'payment_method_insufficient_funds', message: 'Insufficient funds.' },
        })),
        e('checkout.session.async_payment_failed', later, p.session('complete', 'unpaid', true)),
      ];
    }
    case 'session_expired':
      return [e('checkout.session.expired', t + 86_400, p.session('expired', 'unpaid', false))];
    case 'partial_refund':
    case 'full_refund': {
      const amount = journey === 'full_refund' ? p.charged : Math.floor(p.charged / 2);
      const at = t + 600;
      const refund = { id: rand('re', s), object: 'refund', amount, charge: p.charge, created: at, currency: input.currency, payment_intent: p.pi, status: 'succeeded', reason: 'requested_by_customer', metadata: {} };
      return [
        ...card(),
        e('refund.created', at, refund),
        e('charge.refunded', at, p.chargeObj('succeeded', { amount_refunded: amount, refunded: amount === p.charged })),
        e('refund.updated', at + 1, refund),
      ];
    }
    case 'dispute_won':
    case 'dispute_lost': {
      const dp = rand('dp', s);
      const dispute = (status: string, at: number) => ({
        id: dp, object: 'dispute', amount: p.charged, charge: p.charge, created: t + 3600, currency: input.currency,
        payment_intent: p.pi, reason: 'fraudulent', status, is_charge_refundable: false, livemode: false, metadata: {},
        evidence_details: { due_by: at + 7 * 86_400, has_evidence: false, past_due: false, submission_count: 0 },
      });
      const closedAt = t + 20 * 86_400;
      return [
        ...card(),
        e('charge.dispute.created', t + 3600, dispute('needs_response', t + 3600)),
        e('charge.dispute.updated', t + 7200, dispute('under_review', t + 7200)),
        e('charge.dispute.closed', closedAt, dispute(journey === 'dispute_won' ? 'won' : 'lost', closedAt)),
      ];
    }
  }
}

/** Deterministic pseudo-random numbers (mulberry32), so a shuffled delivery can be replayed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Stripe's delivery: some events twice, in any order. */
export function deliveryOrder<T>(events: T[], opts: { duplicates?: number; shuffle?: boolean; random?: () => number }): T[] {
  const random = opts.random ?? Math.random;
  const out = [...events];
  if (opts.duplicates) for (const ev of events) if (random() < opts.duplicates) out.push(ev);
  if (opts.shuffle) {
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Subscriptions

export const SUBSCRIPTION_JOURNEYS = ['subscription_renew', 'subscription_past_due', 'subscription_cancel'] as const;
export type SubscriptionJourney = (typeof SUBSCRIPTION_JOURNEYS)[number];
/** Any scripted journey: payment journeys run on payment-mode sessions, subscription journeys on subscription-mode ones. */
export type Journey = PaymentJourney | SubscriptionJourney;

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
  const e = (type: string, at: number, obj: Record<string, unknown>, previous?: Record<string, unknown>): StripeEvent => {
    const ev = event(type, at, obj, s);
    return previous ? { ...ev, data: { ...ev.data, previous_attributes: previous } } : ev;
  };
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
