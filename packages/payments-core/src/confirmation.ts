import { isPaid, type OrderState } from './order-state.js';

/** What a payment (or, for the legacy handler, a completed Checkout) says was paid. */
export type PaymentFacts = {
  paymentIntentId: string | null;
  amount: number | null;
  currency: string | null;
  /** Why this confirms, for the audit trail. */
  reason: string;
  /** Set (with why) when nothing was due, so the amount check does not apply (a trial's $0 first invoice). */
  amountWaived?: string;
};

export type RejectionCode =
  | 'ORDER_NOT_FOUND'
  | 'ALREADY_CONFIRMED'
  | 'DUPLICATE_PAYMENT'
  | 'CURRENCY_MISMATCH'
  | 'AMOUNT_MISMATCH'
  | 'PAYMENT_INTENT_MISMATCH'
  | 'PAID_AFTER_CANCELLATION'
  /** Stripe reports more refunded than the order's price: parked, nothing revoked on a guess. */
  | 'REFUND_EXCEEDS_PAYMENT';

export type Rejection = { code: RejectionCode; message: string };

export type ConfirmationCheck = (order: OrderState, payment: PaymentFacts) => Rejection | null;

/**
 * The business checks a payment must pass before an order is confirmed, in order. The first
 * failure wins; `ALREADY_CONFIRMED` is a harmless duplicate, every other failure is parked
 * for an admin and never granted.
 */
export const CONFIRMATION_CHECKS: readonly ConfirmationCheck[] = [
  function notAlreadyConfirmed(order, payment) {
    if (!isPaid(order.status)) return null;
    if (order.paymentIntentId && payment.paymentIntentId && order.paymentIntentId !== payment.paymentIntentId) {
      return {
        code: 'DUPLICATE_PAYMENT',
        message: `order already paid by ${order.paymentIntentId}; ${payment.paymentIntentId} paid it again`,
      };
    }
    return { code: 'ALREADY_CONFIRMED', message: 'order already confirmed' };
  },
  function currencyMatches(order, payment) {
    return payment.currency?.toLowerCase() === order.currency.toLowerCase()
      ? null
      : { code: 'CURRENCY_MISMATCH', message: `paid in ${payment.currency ?? 'unknown'}, order is in ${order.currency}` };
  },
  function amountMatches(order, payment) {
    return payment.amount === order.amount || (payment.amountWaived !== undefined && payment.amount === 0)
      ? null
      : { code: 'AMOUNT_MISMATCH', message: `paid ${payment.amount ?? 'unknown'}, order amount is ${order.amount}` };
  },
  // Another PaymentIntent than the one the order is linked to: a payment only reaches an order
  // through that order's own id (its PaymentIntent's metadata) or its link, so it is a second
  // payment Settle made for this order. Whichever succeeds first confirms it (and becomes the
  // order's) and the other is a duplicate payment, in any order of delivery: parking the order
  // when the second one's events came first withheld what was paid. Parked only when refunds or
  // a dispute were already recorded against the linked one: they are not this payment's.
  function samePaymentIntent(order, payment) {
    const other = order.paymentIntentId && payment.paymentIntentId && order.paymentIntentId !== payment.paymentIntentId;
    return !other || (order.amountRefunded === 0 && !order.disputeId)
      ? null
      : {
          code: 'PAYMENT_INTENT_MISMATCH',
          message: `order is linked to ${order.paymentIntentId}, with money taken back from it, and payment came from ${payment.paymentIntentId}`,
        };
  },
  function notCanceled(order) {
    return order.status === 'canceled'
      ? { code: 'PAID_AFTER_CANCELLATION', message: 'payment received for a canceled order' }
      : null;
  },
];

export function validateConfirmation(
  order: OrderState | null,
  payment: PaymentFacts,
): { ok: true } | { ok: false; rejection: Rejection } {
  if (!order) return { ok: false, rejection: { code: 'ORDER_NOT_FOUND', message: 'no order for this payment' } };
  for (const check of CONFIRMATION_CHECKS) {
    const rejection = check(order, payment);
    if (rejection) return { ok: false, rejection };
  }
  return { ok: true };
}
