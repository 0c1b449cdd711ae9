import { findDuplicatePayment, type OrderRow } from '@settle/db';
import { isOrderStatus } from '@settle/payments-core';
import type { AppDeps } from '../app-deps.js';

export type RefundTarget =
  | { ok: true; paymentIntentId: string; currency: string; remaining: number; refundedSoFar: number; duplicate: boolean }
  | { ok: false; code: 'NOT_FOUND' | 'PRECONDITION'; message: string };

const REFUNDABLE = ['succeeded', 'partially_refunded'];

/**
 * Which payment a refund of an order moves money back from, and how much of it is left: the
 * order's own payment, or (with `paymentIntentId`) a duplicate payment recorded beside it. Nothing
 * beyond what that payment brought in can be refunded.
 */
export async function refundTarget(deps: AppDeps, order: OrderRow, paymentIntentId?: string): Promise<RefundTarget> {
  if (paymentIntentId && paymentIntentId !== order.payment_intent_id) {
    const duplicate = await findDuplicatePayment(deps.database.db, paymentIntentId);
    if (!duplicate || duplicate.order_id !== order.id) {
      return { ok: false, code: 'NOT_FOUND', message: `${paymentIntentId} is neither this order's payment nor a duplicate payment of it` };
    }
    const refunded = Number(duplicate.amount_refunded);
    return { ok: true, paymentIntentId, currency: duplicate.currency, remaining: Number(duplicate.amount) - refunded, refundedSoFar: refunded, duplicate: true };
  }
  if (!isOrderStatus(order.status) || !REFUNDABLE.includes(order.status)) {
    return { ok: false, code: 'PRECONDITION', message: `an order that is ${order.status} cannot be refunded` };
  }
  if (!order.payment_intent_id) return { ok: false, code: 'PRECONDITION', message: 'order has no payment to refund' };
  const refunded = Number(order.amount_refunded);
  return { ok: true, paymentIntentId: order.payment_intent_id, currency: order.currency, remaining: Number(order.amount) - refunded, refundedSoFar: refunded, duplicate: false };
}
