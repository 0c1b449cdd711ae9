import { sql } from 'kysely';
import { enqueueEntitlementsUpdated } from './host-outbox.repository.js';
import type { Db, Trx } from '../database.js';
import type { InvoiceRow } from '../tables/invoice.table.js';
import type { OrderRow } from '../tables/order.table.js';
import type { NewSubscription, SubscriptionRow } from '../tables/subscription.table.js';
import { lockOrder } from './order.repository.js';

/** Lock a subscription's row; the caller already holds its order's lock (lock order: order, subscription, entitlement). */
export async function lockSubscription(trx: Trx, subscriptionId: string): Promise<SubscriptionRow | undefined> {
  return trx.selectFrom('subscriptions').selectAll().where('id', '=', subscriptionId).forUpdate().executeTakeFirst();
}

/** Insert or replace a subscription's state; who owns it (user, order, product, plan) never changes once known. */
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
        cancel_at_period_end: eb.ref('excluded.cancel_at_period_end'),
        status_stripe_at: eb.ref('excluded.status_stripe_at'),
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

/** A user's subscriptions, each with the status of the order that started it. */
export async function listSubscriptionsForUser(db: Db | Trx, userId: string): Promise<(SubscriptionRow & { order_status: string | null })[]> {
  return db
    .selectFrom('subscriptions')
    .leftJoin('orders', 'orders.id', 'subscriptions.order_id')
    .selectAll('subscriptions')
    .select('orders.status as order_status')
    .where('subscriptions.user_id', '=', userId)
    .orderBy('subscriptions.created_at')
    .execute();
}

export async function findSubscriptionForOrder(db: Db | Trx, orderId: string): Promise<SubscriptionRow | undefined> {
  return db.selectFrom('subscriptions').selectAll().where('order_id', '=', orderId).orderBy('created_at', 'desc').executeTakeFirst();
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
