import { sql, type ExpressionBuilder } from 'kysely';
import type { Database, Db, Trx } from '../database.js';
import type { NewOrder, NewOrderTransition, OrderRow, OrderUpdate } from '../tables/order.table.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether a string can be an order id; metadata from outside may hold anything. */
export function isOrderId(value: string | null | undefined): value is string {
  return typeof value === 'string' && UUID.test(value);
}

export async function insertOrder(db: Db | Trx, order: NewOrder): Promise<OrderRow> {
  return db.insertInto('orders').values(order).returningAll().executeTakeFirstOrThrow();
}

/** The order a user's `checkout.create` with this idempotency key opened, if any. */
export async function findOrderByCheckoutKey(db: Db | Trx, userId: string, key: string): Promise<OrderRow | undefined> {
  return db.selectFrom('orders').selectAll().where('user_id', '=', userId).where('checkout_key', '=', key).executeTakeFirst();
}

/** Free an idempotency key whose checkout never got a session (Stripe failed): the caller's retry opens a new one. */
export async function releaseCheckoutKey(db: Db | Trx, orderId: string): Promise<void> {
  await db.updateTable('orders').set({ checkout_key: null }).where('id', '=', orderId).where('checkout_session_id', 'is', null).execute();
}

/** Whether an error is PostgreSQL's unique violation on a checkout's idempotency key (two calls with one key at once). */
export function isCheckoutKeyTaken(err: unknown): boolean {
  const e = err as { code?: unknown; constraint?: unknown; message?: unknown } | null;
  return e?.code === '23505' && (e.constraint === 'orders_checkout_key_idx' || String(e.message ?? '').includes('orders_checkout_key_idx'));
}

export async function findOrder(db: Db | Trx, orderId: string): Promise<OrderRow | undefined> {
  if (!isOrderId(orderId)) return undefined;
  return db.selectFrom('orders').selectAll().where('id', '=', orderId).executeTakeFirst();
}

export type OrderLookup = { orderId: string | null; checkoutSessionId: string | null; paymentIntentId: string | null };

/**
 * Find and lock the order an event refers to: by Settle's order id from metadata, else by the
 * Checkout Session, else by the PaymentIntent. The row lock serialises every event of one order.
 */
export async function lockOrderByRef(trx: Trx, ref: OrderLookup): Promise<OrderRow | undefined> {
  const attempts: [column: 'id' | 'checkout_session_id' | 'payment_intent_id', value: string | null][] = [
    ['id', isOrderId(ref.orderId) ? ref.orderId : null],
    ['checkout_session_id', ref.checkoutSessionId],
    ['payment_intent_id', ref.paymentIntentId],
  ];
  for (const [column, value] of attempts) {
    if (!value) continue;
    const row = await trx.selectFrom('orders').selectAll().where(column, '=', value).forUpdate().executeTakeFirst();
    if (row) return row;
  }
  return undefined;
}

export type OrderRefs = { ids: string[]; checkoutSessionIds: string[]; paymentIntentIds: string[] };
export type OrderKeys = Pick<OrderRow, 'id' | 'checkout_session_id' | 'payment_intent_id'>;

/**
 * Lock every order a batch of events may name, in one statement: by id, Checkout Session or
 * PaymentIntent, in id order. Rows another transaction holds are not waited for: they come back
 * apart (`held`, unlocked, keys only), so their events can be left for a later claim.
 */
export async function lockOrdersByRefs(trx: Trx, refs: OrderRefs): Promise<{ locked: OrderRow[]; held: OrderKeys[] }> {
  const ids = refs.ids.filter(isOrderId);
  if (ids.length + refs.checkoutSessionIds.length + refs.paymentIntentIds.length === 0) return { locked: [], held: [] };
  const named = (eb: ExpressionBuilder<Database, 'orders'>) =>
    eb.or([
      ...(ids.length ? [eb('id', 'in', ids)] : []),
      ...(refs.checkoutSessionIds.length ? [eb('checkout_session_id', 'in', refs.checkoutSessionIds)] : []),
      ...(refs.paymentIntentIds.length ? [eb('payment_intent_id', 'in', refs.paymentIntentIds)] : []),
    ]);
  const locked = await trx.selectFrom('orders').selectAll().where(named).orderBy('id').forUpdate().skipLocked().execute();
  const mine = locked.map((r) => r.id);
  let others = trx.selectFrom('orders').select(['id', 'checkout_session_id', 'payment_intent_id']).where(named);
  if (mine.length) others = others.where('id', 'not in', mine);
  return { locked, held: await others.execute() };
}

export async function lockOrder(trx: Trx, orderId: string): Promise<OrderRow | undefined> {
  if (!isOrderId(orderId)) return undefined;
  return trx.selectFrom('orders').selectAll().where('id', '=', orderId).forUpdate().executeTakeFirst();
}

export async function updateOrder(trx: Trx, orderId: string, patch: OrderUpdate): Promise<OrderRow> {
  return trx
    .updateTable('orders')
    .set({ ...patch, updated_at: sql`now()` })
    .where('id', '=', orderId)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/**
 * `updateOrder` for many orders in one statement: each row's decided columns (status, Stripe
 * references, times, refunded amount, dispute, review and failure) are written as given, and
 * `updated_at` is the transaction's. `emails`: a buyer's e-mail for some of these orders,
 * recorded where the order has none yet (as `recordCustomerEmails`). Returns the rows as
 * written, in no particular order.
 */
export async function updateOrderRows(trx: Trx, rows: readonly OrderRow[], emails?: ReadonlyMap<string, string>): Promise<OrderRow[]> {
  if (rows.length === 0) return [];
  const values = rows.map((r) => sql`(
    ${r.id}::uuid, ${r.status}::text, ${r.checkout_session_id}::text, ${r.payment_intent_id}::text,
    ${r.status_stripe_at}::timestamptz, ${r.paid_at}::timestamptz, ${r.amount_refunded}::bigint, ${r.dispute_id}::text,
    ${r.dispute_status}::text, ${r.status_before_dispute}::text, ${r.review_reason}::text, ${r.failure_reason}::text,
    ${emails?.get(r.id)?.slice(0, 320) ?? null}::text)`);
  const written = await sql<OrderRow>`
    update orders as o set
      status = v.status, checkout_session_id = v.checkout_session_id, payment_intent_id = v.payment_intent_id,
      status_stripe_at = v.status_stripe_at, paid_at = v.paid_at, amount_refunded = v.amount_refunded, dispute_id = v.dispute_id,
      dispute_status = v.dispute_status, status_before_dispute = v.status_before_dispute, review_reason = v.review_reason,
      failure_reason = v.failure_reason, customer_email = coalesce(o.customer_email, v.customer_email), updated_at = now()
    from (values ${sql.join(values)}) as v(id, status, checkout_session_id, payment_intent_id, status_stripe_at, paid_at,
      amount_refunded, dispute_id, dispute_status, status_before_dispute, review_reason, failure_reason, customer_email)
    where o.id = v.id
    returning o.*`.execute(trx);
  return written.rows;
}

export async function insertTransition(trx: Trx, row: NewOrderTransition): Promise<void> {
  await trx.insertInto('order_transitions').values(row).execute();
}

/** `insertTransition` for many rows in one statement; ids follow the order given. */
export async function insertTransitions(trx: Trx, rows: NewOrderTransition[]): Promise<void> {
  if (rows.length === 0) return;
  await trx.insertInto('order_transitions').values(rows).execute();
}

export async function listTransitions(db: Db | Trx, orderId: string) {
  return db.selectFrom('order_transitions').selectAll().where('order_id', '=', orderId).orderBy('id').execute();
}

/** A keyset position: the last row's time (ISO-8601 with microseconds, as stored) and id. */
export type OrderCursor = { createdAt: string; id: string };

/** A row's time as the database keeps it (microseconds), for cursors: a JS Date would cut it to ms. */
export const cursorTime = (column: string) =>
  sql<string>`to_char(${sql.ref(column)} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/**
 * A user's unpaid orders that could still be paid: `pending` and younger than a Checkout
 * Session lives (24 h). Uses the (user_id, created_at, id) index.
 */
export async function countOpenOrdersForUser(db: Db, userId: string): Promise<number> {
  const r = await db
    .selectFrom('orders')
    .select(sql<number>`count(*)::int`.as('n'))
    .where('user_id', '=', userId)
    .where('created_at', '>', sql<Date>`now() - interval '24 hours'`)
    .where('status', '=', 'pending')
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

/** A user's orders, newest first, by keyset pagination on (created_at, id). */
export async function listOrdersForUser(
  db: Db,
  userId: string,
  opts: { limit: number; cursor?: OrderCursor | undefined },
): Promise<(OrderRow & { cursor_at: string })[]> {
  let q = db.selectFrom('orders').selectAll().select(cursorTime('created_at').as('cursor_at')).where('user_id', '=', userId);
  if (opts.cursor) q = q.where(sql<boolean>`(created_at, id) < (${opts.cursor.createdAt}::timestamptz, ${opts.cursor.id}::uuid)`);
  return q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(opts.limit).execute();
}

export async function countOrdersByStatus(db: Db): Promise<Record<string, number>> {
  const rows = await db.selectFrom('orders').select(['status', sql<number>`count(*)::int`.as('n')]).groupBy('status').execute();
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
}

export type ReconcileAges = { pendingMinutes: number; processingMinutes: number; reviewMinutes: number; recheckMinutes: number };

/**
 * Claim orders that look stuck for a comparison with Stripe: `pending` past the Checkout
 * expiry, attempt states (`processing`, `requires_action`, `failed`) past an age, `needs_review`.
 * Stamping `last_reconciled_at` in the claim keeps other instances off them until the recheck
 * age passes.
 */
export async function claimOrdersToReconcile(db: Db, ages: ReconcileAges, limit: number): Promise<string[]> {
  const minutes = (n: number) => sql`now() - ${`${n} minutes`}::interval`;
  const rows = await sql<{ id: string }>`
    update orders set last_reconciled_at = now()
    where id in (
      select id from orders
      where ((status = 'pending' and created_at < ${minutes(ages.pendingMinutes)})
          or (status in ('processing', 'requires_action', 'failed') and updated_at < ${minutes(ages.processingMinutes)})
          or (status = 'needs_review' and updated_at < ${minutes(ages.reviewMinutes)}))
        and (last_reconciled_at is null or last_reconciled_at < ${minutes(ages.recheckMinutes)})
      order by updated_at
      limit ${limit}
      for update skip locked
    )
    returning id`.execute(db);
  return rows.rows.map((r) => r.id);
}

/**
 * Paid one-time orders whose invoice has not arrived `minutes` after payment, in whatever paid
 * status (refunded or disputed since included). The statuses are the partial index's
 * (`orders_paid_payment_idx`), written out so the planner matches them.
 */
export function missingInvoice(minutes: number) {
  return sql<boolean>`orders.mode = 'payment' and orders.status in ('succeeded', 'partially_refunded', 'refunded', 'disputed', 'charged_back')
    and orders.paid_at < now() - ${`${minutes} minutes`}::interval
    and not exists (select 1 from invoices i where i.order_id = orders.id)`;
}

export async function countOrdersMissingInvoice(db: Db, minutes: number): Promise<number> {
  const r = await db.selectFrom('orders').select(sql<number>`count(*)::int`.as('n')).where(missingInvoice(minutes)).executeTakeFirst();
  return Number(r?.n ?? 0);
}

/** Remember the buyer's e-mail Checkout collected (first one wins). */
export async function recordCustomerEmail(trx: Trx, orderId: string, email: string): Promise<void> {
  await trx.updateTable('orders').set({ customer_email: email.slice(0, 320) }).where('id', '=', orderId).where('customer_email', 'is', null).execute();
}

/** `recordCustomerEmail` for many orders in one statement (a batch's, before its commit). */
export async function recordCustomerEmails(trx: Trx, emails: { orderId: string; email: string }[]): Promise<void> {
  if (emails.length === 0) return;
  await sql`
    update orders as o set customer_email = v.email
    from (values ${sql.join(emails.map((e) => sql`(${e.orderId}::uuid, ${e.email.slice(0, 320)})`))}) as v(id, email)
    where o.id = v.id and o.customer_email is null`.execute(trx);
}
