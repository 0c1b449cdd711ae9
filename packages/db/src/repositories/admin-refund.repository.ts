import { sql } from 'kysely';
import type { Trx } from '../database.js';
import type { AdminRefundRequestRow } from '../tables/admin.table.js';
import { recordAdminAction } from './admin.repository.js';

export type NewRefundRequest = {
  requestKey: string;
  orderId: string;
  paymentIntentId: string;
  amount: number;
  currency: string;
  actor: string;
  reason: string;
};

/**
 * Record a refund an operator asked for, with its audit row, before Stripe is asked. A request
 * key seen before writes nothing: the existing request comes back (`created: false`).
 */
export async function beginRefundRequest(trx: Trx, r: NewRefundRequest): Promise<{ created: boolean; request: AdminRefundRequestRow }> {
  const existing = await trx.selectFrom('admin_refund_requests').selectAll().where('request_key', '=', r.requestKey).forUpdate().executeTakeFirst();
  if (existing) return { created: false, request: existing };
  const auditId = await recordAdminAction(trx, {
    actor: r.actor,
    action: 'orders.refund',
    target: `order:${r.orderId}`,
    reason: r.reason,
    details: { amount: r.amount, currency: r.currency, paymentIntentId: r.paymentIntentId, status: 'requested' },
  });
  const request = await trx
    .insertInto('admin_refund_requests')
    .values({
      request_key: r.requestKey,
      order_id: r.orderId,
      payment_intent_id: r.paymentIntentId,
      amount: r.amount,
      currency: r.currency,
      actor: r.actor,
      reason: r.reason,
      state: 'requested',
      audit_id: auditId,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return { created: true, request };
}

/** What Stripe answered, on the request and on its audit row, in one transaction. */
export async function settleRefundRequest(
  trx: Trx,
  requestKey: string,
  outcome: { ok: true; refundId: string; status: string | null } | { ok: false; error: string },
): Promise<AdminRefundRequestRow> {
  const request = await trx
    .updateTable('admin_refund_requests')
    .set({
      state: outcome.ok ? 'succeeded' : 'failed',
      stripe_refund_id: outcome.ok ? outcome.refundId : null,
      stripe_status: outcome.ok ? outcome.status : null,
      error: outcome.ok ? null : outcome.error,
      updated_at: sql`now()`,
    })
    .where('request_key', '=', requestKey)
    .returningAll()
    .executeTakeFirstOrThrow();
  const details = outcome.ok ? { status: 'succeeded', refundId: outcome.refundId, stripeStatus: outcome.status } : { status: 'failed', error: outcome.error };
  await trx
    .updateTable('admin_audit')
    .set({ details: sql`details || ${JSON.stringify(details)}::jsonb` })
    .where('id', '=', request.audit_id)
    .execute();
  return request;
}
