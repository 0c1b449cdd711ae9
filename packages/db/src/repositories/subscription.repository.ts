import { sql } from 'kysely';
import { enqueueEntitlementsUpdated } from './host-outbox.repository.js';
import type { Db, Trx } from '../database.js';
import type { InvoiceRow } from '../tables/invoice.table.js';
import type { OrderRow } from '../tables/order.table.js';
import type {
  NewSubscription,
  NewSubscriptionHistory,
  NewSubscriptionPayment,
  SubscriptionHistoryRow,
  SubscriptionPaymentRow,
  SubscriptionRow,
} from '../tables/subscription.table.js';
import { cursorTime, lockOrder } from './order.repository.js';

/** Lock a subscription's row; the caller already holds its order's lock (lock order: order, subscription, entitlement). */
export async function lockSubscription(trx: Trx, subscriptionId: string): Promise<SubscriptionRow | undefined> {
  return trx.selectFrom('subscriptions').selectAll().where('id', '=', subscriptionId).forUpdate().executeTakeFirst();
}

/** Insert or replace a subscription's state; who owns it (user, order, product) never changes once known. */
export async function saveSubscription(trx: Trx, row: NewSubscription): Promise<SubscriptionRow> {
  return trx
    .insertInto('subscriptions')
    .values(row)
    .onConflict((oc) =>
      oc.column('id').doUpdateSet((eb) => ({
        order_id: sql`coalesce(subscriptions.order_id, ${eb.ref('excluded.order_id')})`,
        stripe_customer_id: sql`coalesce(${eb.ref('excluded.stripe_customer_id')}, subscriptions.stripe_customer_id)`,
        stripe_price_id: sql`coalesce(${eb.ref('excluded.stripe_price_id')}, subscriptions.stripe_price_id)`,
        stripe_status: eb.ref('excluded.stripe_status'),
        status: eb.ref('excluded.status'),
        current_period_end: eb.ref('excluded.current_period_end'),
        cancel_at: eb.ref('excluded.cancel_at'),
        cancel_at_period_end: eb.ref('excluded.cancel_at_period_end'),
        status_stripe_at: eb.ref('excluded.status_stripe_at'),
        status_inferred: eb.ref('excluded.status_inferred'),
        plan: eb.ref('excluded.plan'),
        plan_stripe_at: eb.ref('excluded.plan_stripe_at'),
        unknown_price_id: eb.ref('excluded.unknown_price_id'),
        // Stripe's word on the trial replaces the inference's guess (a coupon's subscription has none).
        trial_end: sql`case when subscriptions.status_inferred and not ${eb.ref('excluded.status_inferred')} then ${eb.ref('excluded.trial_end')}
          else coalesce(${eb.ref('excluded.trial_end')}, subscriptions.trial_end) end`,
        latest_invoice_id: sql`coalesce(${eb.ref('excluded.latest_invoice_id')}, subscriptions.latest_invoice_id)`,
        updated_at: sql`now()`,
      })),
    )
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Find and lock the order that started a subscription, for events that carry no order id. */
export async function lockOrderOfSubscription(trx: Trx, subscriptionId: string | null): Promise<OrderRow | undefined> {
  if (!subscriptionId) return undefined;
  const sub = await trx.selectFrom('subscriptions').select('order_id').where('id', '=', subscriptionId).executeTakeFirst();
  return sub?.order_id ? lockOrder(trx, sub.order_id) : undefined;
}

/**
 * Find and lock the order that started the subscription an event is about, for events that name
 * no order: by its subscription, by an invoice Settle recorded as its payment, or by the
 * PaymentIntent that paid such an invoice. Returns the subscription id it went through.
 */
export async function lockOrderOfSubscriptionRef(
  trx: Trx,
  ref: { subscriptionId: string | null; invoiceId: string | null; paymentIntentId: string | null },
): Promise<{ order: OrderRow; subscriptionId: string } | undefined> {
  const viaPayment = async () => {
    if (ref.invoiceId) {
      const p = await trx.selectFrom('subscription_payments').select('subscription_id').where('invoice_id', '=', ref.invoiceId).executeTakeFirst();
      if (p) return p.subscription_id;
    }
    if (!ref.paymentIntentId) return null;
    const p = await trx.selectFrom('subscription_payments').select('subscription_id').where('payment_intent_id', '=', ref.paymentIntentId).executeTakeFirst();
    return p?.subscription_id ?? null;
  };
  const subscriptionId = ref.subscriptionId ?? (await viaPayment());
  if (!subscriptionId) return undefined;
  const order = await lockOrderOfSubscription(trx, subscriptionId);
  return order ? { order, subscriptionId } : undefined;
}

/** A subscription with the status and creation time of the order that started it (null when Settle has no such order). */
export type SubscriptionWithOrderRow = SubscriptionRow & { order_status: string | null; order_created_at: Date | null };

/** A user's subscriptions, each with the status of the order that started it. */
export async function listSubscriptionsForUser(db: Db | Trx, userId: string): Promise<SubscriptionWithOrderRow[]> {
  return db
    .selectFrom('subscriptions')
    .leftJoin('orders', 'orders.id', 'subscriptions.order_id')
    .selectAll('subscriptions')
    .select(['orders.status as order_status', 'orders.created_at as order_created_at'])
    .where('subscriptions.user_id', '=', userId)
    .orderBy('subscriptions.created_at')
    .execute();
}

export async function findSubscriptionForOrder(db: Db | Trx, orderId: string): Promise<SubscriptionRow | undefined> {
  return (await findSubscriptionsForOrders(db, [orderId])).get(orderId);
}

/** `findSubscriptionForOrder` for several orders in one query: each order's newest subscription (orders without one are absent). */
export async function findSubscriptionsForOrders(db: Db | Trx, orderIds: string[]): Promise<Map<string, SubscriptionRow>> {
  if (orderIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('subscriptions')
    .selectAll()
    .distinctOn('order_id')
    .where('order_id', 'in', orderIds)
    .orderBy('order_id')
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .execute();
  return new Map(rows.map((r) => [r.order_id!, r]));
}

export async function listInvoicesForSubscription(db: Db | Trx, subscriptionId: string): Promise<InvoiceRow[]> {
  return db.selectFrom('invoices').selectAll().where('subscription_id', '=', subscriptionId).orderBy('stripe_created').orderBy('id').execute();
}

/**
 * Lock a user's entitlement row (created if missing). Checkout takes it to serialise a user's
 * subscription checkouts; event processing takes it last, after the order and subscription.
 */
export async function lockEntitlementRow(trx: Trx, userId: string): Promise<void> {
  await trx.insertInto('entitlements').values({ user_id: userId, plan: null, subscription_status: null, plan_period_end: null })
    .onConflict((oc) => oc.column('user_id').doNothing()).execute();
  await trx.selectFrom('entitlements').select('user_id').where('user_id', '=', userId).forUpdate().executeTakeFirst();
}

/** Set the plan part of a user's entitlement (credits are untouched). */
export async function setPlanEntitlement(
  trx: Trx,
  userId: string,
  e: { plan: string | null; subscriptionStatus: string | null; planPeriodEnd: Date | null },
): Promise<void> {
  await lockEntitlementRow(trx, userId);
  await trx
    .updateTable('entitlements')
    .set({ plan: e.plan, subscription_status: e.subscriptionStatus, plan_period_end: e.planPeriodEnd, updated_at: sql`now()` })
    .where('user_id', '=', userId)
    .execute();
  await enqueueEntitlementsUpdated(trx, userId);
}

export type SubscriptionCheckoutBlock =
  | { kind: 'subscription'; subscriptionId: string; status: string }
  | { kind: 'order'; orderId: string; status: string };

/**
 * What stops a user from starting another subscription to `plan`: a subscription to it that is
 * not canceled, or a subscription order for one of `productIds` still under way (pending or
 * failed and younger than `openMinutes`, or paid with no subscription heard of yet).
 */
export async function findSubscriptionCheckoutBlock(
  db: Db | Trx,
  q: { userId: string; plan: string; productIds: string[]; openMinutes: number },
): Promise<SubscriptionCheckoutBlock | undefined> {
  const sub = await db
    .selectFrom('subscriptions')
    .select(['id', 'status'])
    .where('user_id', '=', q.userId)
    .where('plan', '=', q.plan)
    .where('status', '<>', 'canceled')
    .orderBy('status_stripe_at', 'desc')
    .executeTakeFirst();
  if (sub) return { kind: 'subscription', subscriptionId: sub.id, status: sub.status };
  if (q.productIds.length === 0) return undefined;
  const order = await db
    .selectFrom('orders')
    .select(['orders.id', 'orders.status'])
    .where('orders.user_id', '=', q.userId)
    .where('orders.mode', '=', 'subscription')
    .where('orders.product_id', 'in', q.productIds)
    .where((eb) => eb.not(eb.exists(eb.selectFrom('subscriptions').select('subscriptions.id').whereRef('subscriptions.order_id', '=', 'orders.id'))))
    .where((eb) =>
      eb.or([
        eb.and([
          eb('orders.status', 'in', ['pending', 'failed']),
          eb('orders.created_at', '>', sql<Date>`now() - ${`${q.openMinutes} minutes`}::interval`),
        ]),
        eb('orders.status', 'in', ['processing', 'requires_action', 'succeeded']),
      ]),
    )
    .orderBy('orders.created_at', 'desc')
    .executeTakeFirst();
  return order ? { kind: 'order', orderId: order.id, status: order.status } : undefined;
}

/**
 * The user's subscription to `plan` that `billing.resume` acts on: the one that is not canceled
 * (one per plan, see `findSubscriptionCheckoutBlock`; the newest by Stripe's time should there be
 * more), else the newest canceled one, so the caller hears that it ended rather than of none.
 */
export async function findUserSubscriptionToPlan(db: Db | Trx, q: { userId: string; plan: string }): Promise<SubscriptionRow | undefined> {
  return db
    .selectFrom('subscriptions')
    .selectAll()
    .where('user_id', '=', q.userId)
    .where('plan', '=', q.plan)
    .orderBy(sql`status = 'canceled'`)
    .orderBy('status_stripe_at', 'desc')
    .orderBy('id')
    .limit(1)
    .executeTakeFirst();
}

/**
 * Whether the user had a subscription to the plan before this order was opened, in any status
 * (canceled and `incomplete_expired` included): by its current plan, or by the product that
 * started it (a trial of the plan since moved to another one still was a trial of it). The
 * order's own subscription does not count, nor one Settle learnt of after the order was opened,
 * so a repeat of the order's checkout answers what its first call did.
 */
export async function hadSubscriptionToPlanBefore(
  db: Db | Trx,
  q: { userId: string; plan: string; productIds: string[]; orderId: string },
): Promise<boolean> {
  const row = await db
    .selectFrom('subscriptions')
    .select('subscriptions.id')
    .where('subscriptions.user_id', '=', q.userId)
    .where((eb) => eb.or([eb('subscriptions.plan', '=', q.plan), ...(q.productIds.length > 0 ? [eb('subscriptions.product_id', 'in', q.productIds)] : [])]))
    .where((eb) => eb.or([eb('subscriptions.order_id', 'is', null), eb('subscriptions.order_id', '<>', q.orderId)]))
    .where((eb) => eb('subscriptions.created_at', '<', eb.selectFrom('orders').select('orders.created_at').where('orders.id', '=', q.orderId)))
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

// ---------------------------------------------------------------------------------------------
// Subscription payments (one per invoice) and the subscription's timeline

/** Lock one payment (invoice) of a subscription; the caller holds the subscription's order lock. */
export async function lockSubscriptionPayment(trx: Trx, invoiceId: string): Promise<SubscriptionPaymentRow | undefined> {
  return trx.selectFrom('subscription_payments').selectAll().where('invoice_id', '=', invoiceId).forUpdate().executeTakeFirst();
}

/** Insert or replace a payment with its merged state (the merge happens in payments-core). */
export async function saveSubscriptionPayment(trx: Trx, row: NewSubscriptionPayment): Promise<void> {
  const { invoice_id: _id, created_at: _c, ...update } = row;
  await trx
    .insertInto('subscription_payments')
    .values(row)
    .onConflict((oc) => oc.column('invoice_id').doUpdateSet({ ...update, updated_at: sql`now()` }))
    .execute();
}

/** The payment a PaymentIntent or charge paid, once `invoice_payment.paid` (or an older invoice) linked them. */
export async function findSubscriptionPaymentByMoney(
  db: Db | Trx,
  money: { paymentIntentId: string | null; chargeId?: string | null },
): Promise<SubscriptionPaymentRow | undefined> {
  if (money.paymentIntentId) {
    const byIntent = await db.selectFrom('subscription_payments').selectAll().where('payment_intent_id', '=', money.paymentIntentId).executeTakeFirst();
    if (byIntent) return byIntent;
  }
  if (!money.chargeId) return undefined;
  return db.selectFrom('subscription_payments').selectAll().where('charge_id', '=', money.chargeId).executeTakeFirst();
}

export async function findSubscriptionPayment(db: Db | Trx, invoiceId: string): Promise<SubscriptionPaymentRow | undefined> {
  return db.selectFrom('subscription_payments').selectAll().where('invoice_id', '=', invoiceId).executeTakeFirst();
}

export async function listSubscriptionPayments(db: Db | Trx, subscriptionIds: string[]): Promise<SubscriptionPaymentRow[]> {
  if (subscriptionIds.length === 0) return [];
  return db.selectFrom('subscription_payments').selectAll().where('subscription_id', 'in', subscriptionIds)
    .orderBy('stripe_created').orderBy('invoice_id').execute();
}

export async function insertSubscriptionHistory(trx: Trx, row: NewSubscriptionHistory): Promise<void> {
  await trx.insertInto('subscription_history').values(row).execute();
}

export async function listSubscriptionHistory(db: Db | Trx, subscriptionId: string): Promise<SubscriptionHistoryRow[]> {
  return db.selectFrom('subscription_history').selectAll().where('subscription_id', '=', subscriptionId).orderBy('id').execute();
}

export async function findSubscription(db: Db | Trx, subscriptionId: string): Promise<SubscriptionRow | undefined> {
  return db.selectFrom('subscriptions').selectAll().where('id', '=', subscriptionId).executeTakeFirst();
}

export type SubscriptionCursor = { createdAt: string; id: string };

/**
 * Subscriptions for the console, newest first, with a keyset cursor on (created_at, id), each with
 * its order's status: whether it grants its plan depends on that order too.
 */
export async function listSubscriptionsForAdmin(
  db: Db,
  f: { status?: string | undefined; userId?: string | undefined; cursor?: SubscriptionCursor | undefined; limit: number },
): Promise<(SubscriptionWithOrderRow & { cursor_at: string })[]> {
  let q = db
    .selectFrom('subscriptions')
    .leftJoin('orders', 'orders.id', 'subscriptions.order_id')
    .selectAll('subscriptions')
    .select(['orders.status as order_status', 'orders.created_at as order_created_at', cursorTime('subscriptions.created_at').as('cursor_at')]);
  if (f.status) q = q.where('subscriptions.status', '=', f.status);
  if (f.userId) q = q.where('subscriptions.user_id', '=', f.userId);
  if (f.cursor) q = q.where(sql<boolean>`(subscriptions.created_at, subscriptions.id) < (${f.cursor.createdAt}::timestamptz, ${f.cursor.id})`);
  return q.orderBy('subscriptions.created_at', 'desc').orderBy('subscriptions.id', 'desc').limit(f.limit).execute();
}

/**
 * How many subscriptions are in each status with each plan and price (the Overview's counts and
 * MRR), with Stripe's status: a trial set to cancel at its end shows `cancel_at_period_end` but pays nothing.
 */
export async function countSubscriptionsByStatusAndPlan(
  db: Db,
): Promise<{ status: string; stripe_status: string; plan: string | null; stripe_price_id: string | null; product_id: string; count: number }[]> {
  const rows = await db
    .selectFrom('subscriptions')
    .select(['status', 'stripe_status', 'plan', 'stripe_price_id', 'product_id', sql<string>`count(*)`.as('count')])
    .groupBy(['status', 'stripe_status', 'plan', 'stripe_price_id', 'product_id'])
    .execute();
  return rows.map((r) => ({ ...r, count: Number(r.count) }));
}

/**
 * Claim subscriptions that look stale for the reconciler: Stripe should have renewed, ended or
 * dunned them (their period ended, or their scheduled `cancel_at` came first, `graceMinutes` ago:
 * payments-core's `effectivePeriodEnd`, here as `least`, which skips a null `cancel_at`) and
 * nobody asked Stripe in the last `everyMinutes`. Claiming stamps them, so concurrent instances
 * take different ones.
 */
export async function claimStaleSubscriptions(
  db: Db,
  q: { statuses: readonly string[]; graceMinutes: number; everyMinutes: number; limit: number },
): Promise<string[]> {
  const rows = await sql<{ id: string }>`
    update subscriptions set last_reconciled_at = now()
    where id in (
      select id from subscriptions
      where status in (${sql.join(q.statuses)})
        and least(cancel_at, current_period_end) < now() - ${`${q.graceMinutes} minutes`}::interval
        and (last_reconciled_at is null or last_reconciled_at < now() - ${`${q.everyMinutes} minutes`}::interval)
      order by least(cancel_at, current_period_end)
      limit ${q.limit}
      for update skip locked
    )
    returning id`.execute(db);
  return rows.rows.map((r) => r.id);
}

/**
 * Parked for review (alias `s`): the price is not in the catalogue and the subscription still
 * runs; once canceled it grants nothing and there is nothing left to decide.
 */
export const SUBSCRIPTION_IN_REVIEW = sql<boolean>`s.unknown_price_id is not null and s.status <> 'canceled'`;

/** Subscriptions parked for review because their price is not in the catalogue. */
export async function countSubscriptionsNeedingReview(db: Db): Promise<number> {
  const r = await sql<{ n: number }>`select count(*)::int as n from subscriptions s where ${SUBSCRIPTION_IN_REVIEW}`.execute(db);
  return Number(r.rows[0]?.n ?? 0);
}
