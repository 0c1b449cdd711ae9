/**
 * Scripted customer journeys: the Stripe events a real Checkout purchase emits, in Stripe's own
 * interleaving, with realistic objects (shaped like Stripe's OpenAPI fixtures). Used by the
 * simulator to deliver webhooks and by tests as the source of truth for "what Stripe sends".
 */
import { event, rand, type StripeEvent } from './stripe-events.js';

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
  'dispute_prevented',
] as const;
export type PaymentJourney = (typeof PAYMENT_JOURNEYS)[number];

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
  dispute_prevented: same({ status: 'succeeded', grants: 1, revoked: false, invoice: true }),
};

function same(e: JourneyExpectation) {
  return { new: e, legacy: e };
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
    case 'dispute_prevented': {
      // Dispute prevention (API 2025-08-27.basil): the issuer's case is stopped before it becomes
      // a chargeback; the dispute is made already `prevented` and closed so, and no money moves.
      const dp = rand('dp', s);
      const dispute = {
        id: dp, object: 'dispute', amount: p.charged, charge: p.charge, created: t + 3600, currency: input.currency,
        payment_intent: p.pi, reason: 'fraudulent', status: 'prevented', is_charge_refundable: true, livemode: false, metadata: {},
        payment_method_details: { type: 'card', card: { brand: 'visa', case_type: 'block', network_reason_code: '10.4' } },
      };
      return [...card(), e('charge.dispute.created', t + 3600, dispute), e('charge.dispute.closed', t + 3601, dispute)];
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

