import { ORDER_STATUS_META, type OrderStatus } from './status.js';

/**
 * Whether the console offers a refund of an order's own payment, and why not when it does not.
 * Mirrors the API's rule (`refundableAmount` in apps/api/src/payments/refund.service.ts): a
 * `succeeded` or `partially_refunded` order with a payment and something left to refund, or a
 * `needs_review` order with a payment (the API then asks Stripe what was received). Every other
 * status is refused there with PRECONDITION_FAILED, so the form is not offered.
 */
export type Refundability = { ok: true; inReview: boolean; remaining: number } | { ok: false; why: string };

export function refundability(order: { status: OrderStatus; paymentIntentId: string | null; amount: number; amountRefunded: number }): Refundability {
  const remaining = order.amount - order.amountRefunded;
  switch (order.status) {
    case 'succeeded':
    case 'partially_refunded':
      if (order.paymentIntentId === null) return { ok: false, why: 'This order has no payment at Stripe to refund.' };
      return remaining > 0 ? { ok: true, inReview: false, remaining } : { ok: false, why: 'Nothing left to refund.' };
    case 'needs_review':
      return order.paymentIntentId === null
        ? { ok: false, why: 'This order is in review without a payment at Stripe: there is nothing to refund.' }
        : { ok: true, inReview: true, remaining };
    case 'disputed':
      return {
        ok: false,
        why: 'The customer disputed this payment, so it cannot be refunded while the dispute is open: the money is held by the dispute. Answer (or accept) the dispute in Stripe; if the dispute is won, the order is paid again and can be refunded here.',
      };
    case 'charged_back':
      return { ok: false, why: 'The money already went back to the customer through the dispute (the order was charged back): there is nothing left to refund.' };
    case 'refunded':
      return { ok: false, why: 'Refunded in full: nothing left to refund.' };
    case 'pending':
    case 'processing':
    case 'requires_action':
    case 'failed':
    case 'canceled':
      return { ok: false, why: `Nothing was paid for this order (${ORDER_STATUS_META[order.status].label.toLowerCase()}), so there is nothing to refund.` };
  }
}
