/** Refunds: `POST /v1/refunds` against a payment intent or a charge, with Stripe's refusals. */
import { SimulatorError, type SimulatorCore } from './core.js';
import { expand } from './expand.js';
import { allowOnly, invalid, metadataParam, noSuch, optEnum, optInt, optString, type RequestContext, type Reply } from './stripe-api.js';
import { event, type StripeEvent } from './stripe-events.js';
import { clone, money, randomId, simulatedNow, type StripeObject } from './state.js';

// Top-level parameters refund creation accepts (from the SDK's RefundCreateParams); others get a 400.
const REFUND_CREATE_PARAMS = [
  'amount', 'charge', 'currency', 'customer', 'expand', 'instructions_email', 'metadata', 'origin', 'payment_intent',
  'reason', 'refund_application_fee', 'reverse_transfer',
] as const;

export function createRefund(sim: SimulatorCore, ctx: RequestContext): Reply {
  const p = ctx.params;
  allowOnly(p, REFUND_CREATE_PARAMS);
  const piId = optString(p.payment_intent, 'payment_intent');
  const chargeId = optString(p.charge, 'charge');
  if (!piId && !chargeId) {
    throw invalid('One of the following params should be provided for this request: payment_intent or charge.', { code: 'parameter_missing', param: 'payment_intent' });
  }
  let charge: StripeObject | undefined;
  if (chargeId) {
    charge = sim.state.charges.get(chargeId);
    if (!charge) throw noSuch('charge', chargeId, 'charge');
  }
  if (piId) {
    const intent = sim.state.paymentIntents.get(piId);
    if (!intent) throw noSuch('payment_intent', piId, 'payment_intent');
    if (charge && charge.payment_intent !== piId) throw invalid(`Charge ${charge.id} does not belong to PaymentIntent ${piId}.`, { param: 'charge' });
    const latest = typeof intent.latest_charge === 'string' ? sim.state.charges.get(intent.latest_charge) : undefined;
    if (intent.status !== 'succeeded' || !latest) {
      throw invalid(`This PaymentIntent (${piId}) does not have a successful charge to refund.`, { code: 'charge_not_refundable', param: 'payment_intent' });
    }
    charge ??= latest;
  }
  if (!charge) throw new Error('unreachable: refund without a charge');
  if (charge.status !== 'succeeded') throw invalid(`Charge ${charge.id} has not succeeded and cannot be refunded.`, { code: 'charge_not_refundable', param: 'charge' });
  if (charge.disputed === true) {
    throw invalid(`Charge ${charge.id} has been charged back; cannot issue a refund.`, { code: 'charge_disputed', param: chargeId ? 'charge' : 'payment_intent' });
  }
  const chargeAmount = charge.amount as number;
  const refunded = (charge.amount_refunded as number | undefined) ?? 0;
  const currency = charge.currency as string;
  const remaining = chargeAmount - refunded;
  if (remaining <= 0) throw invalid(`Charge ${charge.id} has already been refunded.`, { code: 'charge_already_refunded' });
  const amount = optInt(p.amount, 'amount') ?? remaining;
  if (amount < 1) throw invalid('Invalid positive integer', { code: 'parameter_invalid_integer', param: 'amount' });
  if (amount > remaining) {
    throw invalid(`Refund amount (${money(amount, currency)}) is greater than unrefunded amount on charge (${money(remaining, currency)})`, { code: 'amount_too_large', param: 'amount' });
  }
  const reason = optEnum(p.reason, 'reason', ['duplicate', 'fraudulent', 'requested_by_customer'] as const) ?? null;
  const now = simulatedNow(sim.state);
  const refund: StripeObject = {
    id: `re_${randomId(24)}`,
    object: 'refund',
    amount,
    balance_transaction: `txn_${randomId(24)}`,
    charge: charge.id,
    created: now,
    currency,
    customer: charge.customer ?? null,
    customer_account: null,
    destination_details: { card: { reference_status: 'pending', reference_type: 'acquirer_reference_number', type: 'refund' }, type: 'card' },
    metadata: metadataParam(p.metadata),
    payment_intent: charge.payment_intent ?? null,
    payment_method: charge.payment_method ?? null,
    reason,
    receipt_number: null,
    source_transfer_reversal: null,
    status: 'succeeded',
    transfer_reversal: null,
  };
  sim.state.refunds.set(refund.id, refund);
  const previous = { amount_refunded: refunded, refunded: charge.refunded ?? false };
  Object.assign(charge, { amount_refunded: refunded + amount, refunded: refunded + amount === chargeAmount });
  sim.emit([sim.apiEvent('charge.refunded', charge, ctx, previous), sim.apiEvent('refund.created', refund, ctx)]);
  return { status: 200, body: expand(sim, clone(refund), p) };
}

/**
 * A refund that fails after it was made (the card was closed, the bank returned it): Stripe puts
 * the money back on the charge and tells with `refund.failed`, `refund.updated` and
 * `charge.refund.updated`. Answers the events, already recorded and being delivered.
 */
export function failRefund(sim: SimulatorCore, refundId: string, failureReason = 'expired_or_canceled_card'): StripeEvent[] {
  const refund = sim.state.refunds.get(refundId);
  if (!refund) throw new SimulatorError(404, `No such refund: '${refundId}'`);
  if (refund.status !== 'succeeded' && refund.status !== 'pending') {
    throw new SimulatorError(409, `Refund ${refundId} is ${String(refund.status)}; only a pending or succeeded refund can fail.`);
  }
  const charge = typeof refund.charge === 'string' ? sim.state.charges.get(refund.charge) : undefined;
  const previous = { status: refund.status, failure_reason: null };
  Object.assign(refund, { status: 'failed', failure_reason: failureReason, failure_balance_transaction: `txn_${randomId(24)}` });
  if (charge) {
    const refunded = Math.max(0, ((charge.amount_refunded as number | undefined) ?? 0) - (refund.amount as number));
    Object.assign(charge, { amount_refunded: refunded, refunded: false });
  }
  const now = simulatedNow(sim.state);
  const events = ['refund.failed', 'refund.updated', 'charge.refund.updated'].map((type) => ({
    ...event(type, now, clone(refund), sim.idSuffix, type === 'refund.failed' ? undefined : previous),
    pending_webhooks: sim.webhook ? 1 : 0,
  }));
  sim.emit(events);
  sim.log(`refund ${refundId} failed (${failureReason})`);
  return events;
}
