/**
 * Journeys of the incidents an operator meets: a refund that fails after it was made, a customer
 * charged twice for one order, and events about objects Settle never created (an account that
 * also sells through other tools).
 */
import { journeyEvents, type JourneyInput } from './payment-journeys.js';
import { event, rand, type StripeEvent } from './stripe-events.js';
import { subscriptionJourneyEvents } from './subscription-journeys.js';

/** On a payment-mode session, after a card payment. */
export const INCIDENT_JOURNEYS = ['refund_failed', 'duplicate_payment'] as const;
export type IncidentJourney = (typeof INCIDENT_JOURNEYS)[number];
/** Needs no session: every object is someone else's. */
export const FOREIGN_JOURNEYS = ['foreign_objects'] as const;
export type ForeignJourney = (typeof FOREIGN_JOURNEYS)[number];

const DAY = 86_400;

type Obj = Record<string, unknown> & { id: string };

const objectOf = (events: StripeEvent[], type: string): Obj => {
  const found = events.find((e) => e.type === type);
  if (!found) throw new Error(`journey has no ${type} event`);
  return found.data.object as Obj;
};

export function incidentJourneyEvents(journey: IncidentJourney, input: JourneyInput): StripeEvent[] {
  const s = input.idSuffix ?? '';
  const t = input.startAt;
  const paid = journeyEvents('card_success', input);
  const charge = objectOf(paid, 'charge.succeeded');
  const intent = objectOf(paid, 'payment_intent.succeeded');
  const e = (type: string, at: number, obj: Record<string, unknown>, previous?: Record<string, unknown>) => event(type, at, obj, s, previous);
  switch (journey) {
    case 'refund_failed': {
      // A refund is accepted, then fails (the card was closed): the money stays with the merchant.
      const at = t + 600;
      const failedAt = t + 2 * DAY;
      const amount = charge.amount as number;
      const refund = { id: rand('re', s), object: 'refund', amount, charge: charge.id, created: at, currency: input.currency, metadata: {}, payment_intent: intent.id, reason: 'requested_by_customer', status: 'pending', failure_reason: null };
      const failed = { ...refund, status: 'failed', failure_reason: 'expired_or_canceled_card', failure_balance_transaction: rand('txn', s) };
      return [
        ...paid,
        e('refund.created', at, refund),
        e('charge.refunded', at, { ...charge, amount_refunded: amount, refunded: true }, { amount_refunded: 0, refunded: false }),
        e('refund.failed', failedAt, failed),
        e('refund.updated', failedAt, failed, { status: 'pending', failure_reason: null }),
        e('charge.refund.updated', failedAt, failed, { status: 'pending', failure_reason: null }),
      ];
    }
    case 'duplicate_payment': {
      // The order is paid, then a second PaymentIntent for the same order succeeds too.
      const at = t + 120;
      const pi = rand('pi', s);
      const ch = rand('ch', s);
      const second = { ...intent, id: pi, created: at, latest_charge: ch };
      return [
        ...paid,
        e('payment_intent.created', at, { ...second, status: 'requires_payment_method', amount_received: 0, latest_charge: null }),
        e('charge.succeeded', at, { ...charge, id: ch, payment_intent: pi, created: at }),
        e('payment_intent.succeeded', at, second),
      ];
    }
  }
}

/** Remove every id Settle puts on its objects, so nothing in them leads to a Settle order or user. */
function foreign<T>(events: T): T {
  return JSON.parse(JSON.stringify(events, (key, value: unknown) => (key === 'orderId' || key === 'userId' ? undefined : value))) as T;
}

/**
 * Events about a Checkout Session, a PaymentIntent, a subscription with its invoice, a refund and
 * a dispute that another tool on the same Stripe account created.
 */
export function foreignJourneyEvents(_journey: ForeignJourney, input: Omit<JourneyInput, 'orderId' | 'checkoutSessionId'>): StripeEvent[] {
  const s = input.idSuffix ?? '';
  const t = input.startAt;
  const base = { ...input, orderId: '', checkoutSessionId: `cs_test_a1${rand('foreign', s)}` };
  const payment = foreign(journeyEvents('card_success', base));
  const plan = foreign(subscriptionJourneyEvents('subscription_renew', { ...base, subscriptionMetadata: {}, priceId: rand('price', s), productId: rand('prod', s), productName: 'another product' }));
  const charge = objectOf(payment, 'charge.succeeded');
  const e = (type: string, at: number, obj: Record<string, unknown>) => event(type, at, obj, s);
  const at = t + 3600;
  const refunded = Math.floor((charge.amount as number) / 2);
  const refund = { id: rand('re', s), object: 'refund', amount: refunded, charge: charge.id, created: at, currency: input.currency, metadata: {}, payment_intent: charge.payment_intent, reason: 'requested_by_customer', status: 'succeeded' };
  const dispute = {
    id: rand('dp', s), object: 'dispute', amount: charge.amount, charge: charge.id, created: at + 60, currency: input.currency, payment_intent: charge.payment_intent,
    reason: 'fraudulent', status: 'needs_response', is_charge_refundable: false, livemode: false, metadata: {},
    evidence_details: { due_by: at + 7 * DAY, has_evidence: false, past_due: false, submission_count: 0 },
  };
  const pick = (events: StripeEvent[], types: string[]) => types.map((type) => events.find((ev) => ev.type === type)!);
  return [
    ...pick(payment, ['charge.succeeded', 'payment_intent.succeeded', 'checkout.session.completed']),
    ...pick(plan, ['customer.subscription.created', 'invoice_payment.paid', 'invoice.paid']),
    e('refund.created', at, refund),
    e('charge.refunded', at, { ...charge, amount_refunded: refunded, refunded: false }),
    e('charge.dispute.created', at + 60, dispute),
  ];
}
