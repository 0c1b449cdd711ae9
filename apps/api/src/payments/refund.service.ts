import { findOrder, recordAdminAction } from '@settle/db';
import type { AppDeps } from '../app-deps.js';
import { errorMessage } from '../lib/errors.js';
import { refundTarget } from './refund-target.js';

export type RefundResult =
  | { ok: true; refundId: string; amount: number; status: string | null }
  | { ok: false; code: 'NOT_FOUND' | 'PRECONDITION' | 'INVALID' | 'UNAVAILABLE'; message: string };

/**
 * Ask Stripe to refund (part of) an order. The order's state is not touched here: Stripe's
 * `charge.refunded` webhook moves it, through the same path as any refund made in Stripe's
 * dashboard. The idempotency key is the caller's request id when given (the console sends one per
 * dialog); otherwise it is derived from what was refunded so far, so a repeat before the webhook
 * lands refunds once while a later, second partial refund still goes through.
 */
export async function refundOrder(
  deps: AppDeps,
  orderId: string,
  amount: number | undefined,
  reason: string,
  actor: string,
  /** The caller's id for this refund (one per "refund" dialog): repeats refund once, whatever happened between. */
  requestId?: string,
  /** A duplicate payment of the order to refund instead of its own payment. */
  paymentIntentId?: string,
): Promise<RefundResult> {
  if (!deps.stripe) return { ok: false, code: 'PRECONDITION', message: 'Stripe is not configured on this server' };
  const order = await findOrder(deps.database.db, orderId);
  if (!order) return { ok: false, code: 'NOT_FOUND', message: 'order not found' };
  const target = await refundTarget(deps, order, paymentIntentId);
  if (!target.ok) return target;
  const remaining = target.remaining;
  const value = amount ?? remaining;
  if (value <= 0 || value > remaining) return { ok: false, code: 'INVALID', message: `amount must be between 1 and ${remaining}` };
  try {
    const refund = await deps.stripe.refunds.create(
      { payment_intent: target.paymentIntentId, amount: value, reason: target.duplicate ? 'duplicate' : 'requested_by_customer', metadata: { orderId, actor } },
      { idempotencyKey: requestId ? `settle-refund-${orderId}-${requestId}` : `settle-refund-${orderId}-${target.duplicate ? `${target.paymentIntentId}-` : ''}${target.refundedSoFar}-${value}` },
    );
    await recordAdminAction(deps.database.db, {
      actor,
      action: 'orders.refund',
      target: `order:${orderId}`,
      reason,
      details: { amount: value, currency: target.currency, paymentIntentId: target.paymentIntentId, duplicate: target.duplicate, refundId: refund.id, status: refund.status },
    });
    return { ok: true, refundId: refund.id, amount: value, status: refund.status };
  } catch (err) {
    deps.logger.warn({ orderId, err: errorMessage(err) }, 'refund request failed');
    const e = err as { statusCode?: number; message?: string };
    if (e.statusCode && e.statusCode < 500) return { ok: false, code: 'INVALID', message: `Stripe refused the refund: ${e.message ?? 'error'}` };
    return { ok: false, code: 'UNAVAILABLE', message: 'payment provider unavailable; try again' };
  }
}
