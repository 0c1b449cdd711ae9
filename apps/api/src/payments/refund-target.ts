import { findDuplicatePayment, type Db, type OrderRow } from '@settle/db';

/**
 * How much of a duplicate payment of an order can still be refunded: what it brought in less what
 * Stripe already refunded of it. A PaymentIntent that is not a duplicate payment of this order is
 * refused; the order's own payment goes through `refundableAmount`.
 */
export async function duplicatePaymentRefundLimit(
  db: Db,
  order: OrderRow,
  paymentIntentId: string,
): Promise<{ ok: true; paymentIntentId: string; currency: string; remaining: number; refundedSoFar: number } | { ok: false; code: 'NOT_FOUND'; message: string }> {
  const duplicate = await findDuplicatePayment(db, paymentIntentId);
  if (!duplicate || duplicate.order_id !== order.id) {
    return { ok: false, code: 'NOT_FOUND', message: `${paymentIntentId} is neither this order's payment nor a duplicate payment of it` };
  }
  const refunded = Number(duplicate.amount_refunded);
  return { ok: true, paymentIntentId, currency: duplicate.currency, remaining: Number(duplicate.amount) - refunded, refundedSoFar: refunded };
}
