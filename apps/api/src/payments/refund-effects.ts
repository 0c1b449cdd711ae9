import { insertDuplicatePayment, recordDuplicateRefund, setPlan, undoDuplicateRefund, type OrderRow, type Trx } from '@settle/db';
import type { Effect } from '@settle/payments-core';
import { moveCredits, type OrderUnitOfWork, type OrderWrites } from './order-unit-of-work.js';

type RefundEffect = Extract<Effect, { type: 'restore' | 'record_refund' | 'record_duplicate_payment' | 'record_duplicate_refund' | 'undo_duplicate_refund' }>;

const fromSeconds = (s: number) => new Date(s * 1000);

/**
 * Carry out the effects of the refund lifecycle and of duplicate payments inside the caller's
 * transaction (which holds the order's row lock). Returns how many grants were given back and
 * whether a duplicate payment was newly recorded (for metrics once committed).
 */
export async function applyRefundEffect(
  trx: Trx,
  order: OrderRow,
  effect: RefundEffect,
  eventId: string | null,
  /** Where the order's grants and refunds are read and written (see `OrderWrites`). */
  writes: OrderWrites,
  /** A batch's pooled writes (credit movements, host messages), written before its commit; none: written at once. */
  unit?: OrderUnitOfWork,
): Promise<{ restored: number; duplicatePayment: boolean }> {
  switch (effect.type) {
    case 'restore': {
      const grant = await writes.lockGrant(trx, order.id, effect.grant.kind);
      if (!grant) return { restored: 0, duplicatePayment: false };
      if (effect.grant.kind === 'plan') {
        if (!grant.revoked_at) return { restored: 0, duplicatePayment: false };
        await setPlan(trx, order.user_id, effect.grant.plan, 'active', unit?.hostMessages);
        await writes.markGrantRestored(trx, grant, 0);
        return { restored: 1, duplicatePayment: false };
      }
      const target = Math.max(0, Math.min(grant.credits, effect.creditsRevoked));
      const giveBack = grant.credits_revoked - target;
      if (giveBack <= 0) return { restored: 0, duplicatePayment: false };
      await moveCredits(trx, { userId: order.user_id, orderId: order.id, delta: giveBack, reason: effect.reason }, unit);
      await writes.markGrantRestored(trx, grant, target);
      return { restored: 1, duplicatePayment: false };
    }
    case 'record_refund': {
      const r = effect.refund;
      await writes.upsertRefund(trx, {
        id: r.refundId,
        order_id: order.id,
        payment_intent_id: r.paymentIntentId,
        amount: r.amount,
        currency: r.currency,
        status: r.status,
        reason: r.reason,
        failure_reason: r.failureReason,
        stripe_created: fromSeconds(r.createdAt),
        undone_at: effect.undoneAt === null ? null : fromSeconds(effect.undoneAt),
      });
      return { restored: 0, duplicatePayment: false };
    }
    case 'record_duplicate_payment': {
      const inserted = await insertDuplicatePayment(trx, {
        payment_intent_id: effect.paymentIntentId,
        order_id: order.id,
        amount: effect.amount,
        currency: effect.currency,
        paid_at: fromSeconds(effect.at),
        event_id: eventId,
      });
      return { restored: 0, duplicatePayment: inserted };
    }
    case 'record_duplicate_refund':
      await recordDuplicateRefund(trx, effect.paymentIntentId, effect.amountRefunded);
      return { restored: 0, duplicatePayment: false };
    case 'undo_duplicate_refund':
      await undoDuplicateRefund(trx, effect.paymentIntentId, effect.amount, effect.floor);
      return { restored: 0, duplicatePayment: false };
  }
}
