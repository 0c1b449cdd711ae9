import { sql } from 'kysely';
import type { Db, Trx } from '../database.js';
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

export async function findRefundRequest(db: Db | Trx, requestKey: string): Promise<AdminRefundRequestRow | undefined> {
  return db.selectFrom('admin_refund_requests').selectAll().where('request_key', '=', requestKey).executeTakeFirst();
}

/**
 * Record a refund an operator asked for, with its audit row, before Stripe is asked. A request
 * key seen before writes nothing, not even an audit row: the existing request comes back
 * (`created: false`). Two at once are ordered by the key's unique index.
 */
export async function beginRefundRequest(trx: Trx, r: NewRefundRequest): Promise<{ created: boolean; request: AdminRefundRequestRow }> {
  const inserted = await trx
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
    })
    .onConflict((oc) => oc.column('request_key').doNothing())
    .returning('request_key')
    .executeTakeFirst();
  if (!inserted) return { created: false, request: (await findRefundRequest(trx, r.requestKey))! };
  const auditId = await recordAdminAction(trx, {
    actor: r.actor,
    action: 'orders.refund',
    target: `order:${r.orderId}`,
    reason: r.reason,
    details: { amount: r.amount, currency: r.currency, paymentIntentId: r.paymentIntentId, requestKey: r.requestKey, status: 'requested' },
  });
  const request = await trx
    .updateTable('admin_refund_requests')
    .set({ audit_id: auditId })
    .where('request_key', '=', r.requestKey)
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
  if (request.audit_id !== null) {
    await trx
      .updateTable('admin_audit')
      .set({ details: sql`details || ${JSON.stringify(details)}::jsonb` })
      .where('id', '=', request.audit_id)
      .execute();
  }
  return request;
}
