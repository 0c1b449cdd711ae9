import { sql } from 'kysely';
import type { Db, Trx } from '../database.js';
import type { DuplicatePaymentRow, NewDuplicatePayment, NewRefund, RefundRow } from '../tables/refund.table.js';
import type { OrderRow } from '../tables/order.table.js';

/**
 * Insert or move a refund record. The status only ever moves away from `pending`/`requires_action`
 * (a late `refund.created` does not undo a `refund.failed`), and `undone_at` once set stays.
 */
export async function upsertRefund(trx: Trx, refund: NewRefund): Promise<RefundRow> {
  return trx
    .insertInto('refunds')
    .values(refund)
    .onConflict((oc) =>
      oc.column('id').doUpdateSet({
        amount: (eb) => eb.ref('excluded.amount'),
        status: sql`case when refunds.status in ('failed', 'canceled') then refunds.status
                         when excluded.status in ('pending', 'requires_action') and refunds.status = 'succeeded' then refunds.status
                         else excluded.status end`,
        reason: sql`coalesce(excluded.reason, refunds.reason)`,
        failure_reason: sql`coalesce(excluded.failure_reason, refunds.failure_reason)`,
        undone_at: sql`coalesce(refunds.undone_at, excluded.undone_at)`,
        updated_at: sql`now()`,
      }),
    )
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Whether Stripe reported this refund failed or canceled (its money back on the charge). */
export async function isRefundUndone(db: Db | Trx, refundId: string): Promise<boolean> {
  const row = await db.selectFrom('refunds').select(['status', 'undone_at']).where('id', '=', refundId).executeTakeFirst();
  return Boolean(row && (row.undone_at !== null || row.status === 'failed' || row.status === 'canceled'));
}

/** Refunds of one order, oldest first (those of its own payment and of duplicate payments). */
export async function listRefundsForOrder(db: Db | Trx, orderId: string): Promise<RefundRow[]> {
  return db.selectFrom('refunds').selectAll().where('order_id', '=', orderId).orderBy('stripe_created').orderBy('id').execute();
}

/** `listRefundsForOrder` for many orders in one statement; an order without refunds maps to none. */
export async function listRefundsForOrders(db: Db | Trx, orderIds: readonly string[]): Promise<Map<string, RefundRow[]>> {
  const byOrder = new Map<string, RefundRow[]>(orderIds.map((id) => [id, []]));
  if (orderIds.length === 0) return byOrder;
  const rows = await db.selectFrom('refunds').selectAll().where('order_id', 'in', orderIds).orderBy('stripe_created').orderBy('id').execute();
  for (const r of rows) byOrder.get(r.order_id)?.push(r);
  return byOrder;
}

/** Record a duplicate payment once (a redelivery changes nothing); true when it is new. */
export async function insertDuplicatePayment(trx: Trx, payment: NewDuplicatePayment): Promise<boolean> {
  const row = await trx
    .insertInto('duplicate_payments')
    .values(payment)
    .onConflict((oc) => oc.column('payment_intent_id').doNothing())
    .returning('payment_intent_id')
    .executeTakeFirst();
  return row !== undefined;
}

/** Stripe's refunded total of a duplicate payment; totals only grow. */
export async function recordDuplicateRefund(trx: Trx, paymentIntentId: string, amountRefunded: number): Promise<void> {
  await trx
    .updateTable('duplicate_payments')
    .set({ amount_refunded: sql`greatest(amount_refunded, ${amountRefunded})` })
    .where('payment_intent_id', '=', paymentIntentId)
    .execute();
}

/**
 * A refund of a duplicate payment failed or was canceled: its amount is no longer refunded, down to
 * `floor` (what that payment's refunds still in force add up to) at the lowest.
 */
export async function undoDuplicateRefund(trx: Trx, paymentIntentId: string, amount: number, floor = 0): Promise<void> {
  await trx
    .updateTable('duplicate_payments')
    .set({ amount_refunded: sql`greatest(${Math.max(0, floor)}::bigint, amount_refunded - ${amount}::bigint)` })
    .where('payment_intent_id', '=', paymentIntentId)
    .execute();
}

export async function listDuplicatePaymentsForOrder(db: Db | Trx, orderId: string): Promise<DuplicatePaymentRow[]> {
  return db.selectFrom('duplicate_payments').selectAll().where('order_id', '=', orderId).orderBy('paid_at').execute();
}

export async function findDuplicatePayment(db: Db | Trx, paymentIntentId: string): Promise<DuplicatePaymentRow | undefined> {
  return db.selectFrom('duplicate_payments').selectAll().where('payment_intent_id', '=', paymentIntentId).executeTakeFirst();
}

/** The order a duplicate payment belongs to, locked: its refunds are events about that order. */
export async function lockOrderOfDuplicatePayment(trx: Trx, paymentIntentId: string | null): Promise<OrderRow | undefined> {
  if (!paymentIntentId) return undefined;
  return trx
    .selectFrom('orders')
    .selectAll('orders')
    .where('id', '=', (eb) => eb.selectFrom('duplicate_payments').select('order_id').where('payment_intent_id', '=', paymentIntentId))
    .forUpdate()
    .executeTakeFirst();
}

/** Whether a PaymentIntent is one of Settle's: an order's payment or a duplicate payment of one. */
export async function isKnownPaymentIntent(db: Db | Trx, paymentIntentId: string): Promise<boolean> {
  const row = await db
    .selectFrom('orders')
    .select('id')
    .where('payment_intent_id', '=', paymentIntentId)
    .unionAll(db.selectFrom('duplicate_payments').select('order_id as id').where('payment_intent_id', '=', paymentIntentId))
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/** The order a Stripe object belongs to, by its Checkout Session, PaymentIntent or subscription id. */
export async function findOrderIdByStripeObject(db: Db | Trx, objectId: string): Promise<string | null> {
  const row = await db
    .selectFrom('orders')
    .select('id')
    .where((eb) => eb.or([eb('payment_intent_id', '=', objectId), eb('checkout_session_id', '=', objectId)]))
    .unionAll(db.selectFrom('duplicate_payments').select('order_id as id').where('payment_intent_id', '=', objectId))
    .unionAll(db.selectFrom('subscriptions').select('order_id as id').where('id', '=', objectId).where('order_id', 'is not', null).$narrowType<{ id: string }>())
    .limit(1)
    .executeTakeFirst();
  return row?.id ?? null;
}
