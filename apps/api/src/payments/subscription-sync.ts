import {
  listSubscriptionsForUser,
  lockEntitlementRow,
  lockSubscription,
  saveSubscription,
  setPlanEntitlement,
  type OrderRow,
  type SubscriptionRow,
  type Trx,
} from '@settle/db';
import {
  decideSubscription,
  isOrderStatus,
  isPaid,
  isStripeSubscriptionStatus,
  isSubscriptionStatus,
  planEntitlementOf,
  type Decision,
  type PaymentCommand,
  type SubscriptionFacts,
  type OrderStatus,
  type SubscriptionState,
} from '@settle/payments-core';
import type { Product } from './product-catalogue.js';
import { fromSeconds, toSeconds } from '../lib/epoch-seconds.js';

export function toSubscriptionState(row: SubscriptionRow): SubscriptionState {
  if (!isStripeSubscriptionStatus(row.stripe_status) || !isSubscriptionStatus(row.status)) {
    throw new Error(`subscription ${row.id} has unknown status ${row.stripe_status}/${row.status}`);
  }
  return {
    id: row.id,
    stripeStatus: row.stripe_status,
    status: row.status,
    cancelAtPeriodEnd: row.cancel_at_period_end,
    currentPeriodEnd: toSeconds(row.current_period_end),
    statusAt: toSeconds(row.status_stripe_at) ?? 0,
  };
}

/** Paid orders whose money went back: their plan was revoked with the refund or chargeback. */
const TAKEN_BACK: readonly OrderStatus[] = ['refunded', 'charged_back'];

export const planOf = (product: Product): string | null => ('plan' in product.grant ? product.grant.plan : null);

/**
 * Bring a user's plan entitlement in line with their subscriptions (see `planEntitlementOf`).
 * A user without subscriptions keeps what grants gave them.
 */
export async function syncPlanEntitlement(trx: Trx, userId: string): Promise<void> {
  // Lock first, read after: a concurrent change to another subscription of this user has then
  // committed (it took this lock too), so the plan is computed from every subscription's latest state.
  await lockEntitlementRow(trx, userId);
  const subs = await listSubscriptionsForUser(trx, userId);
  const e = planEntitlementOf(subs.map((s) => {
    const state = toSubscriptionState(s);
    const confirmed = s.order_status !== null && isOrderStatus(s.order_status) && isPaid(s.order_status) && !TAKEN_BACK.includes(s.order_status);
    return { plan: s.plan, status: state.status, currentPeriodEnd: state.currentPeriodEnd, statusAt: state.statusAt, confirmed };
  }));
  if (!e) return;
  await setPlanEntitlement(trx, userId, { plan: e.plan, subscriptionStatus: e.subscriptionStatus, planPeriodEnd: fromSeconds(e.planPeriodEnd) });
}

export type SubscriptionOutcome = { changed: boolean; stale: boolean; subscriptionId: string };

/**
 * Apply one subscription fact from an event created at `at`, under the lock of the order that
 * started the subscription: lock the subscription, keep the newer version, then update the
 * user's plan, all in the caller's transaction.
 */
export async function applySubscriptionFacts(
  trx: Trx,
  order: OrderRow,
  product: Product,
  facts: SubscriptionFacts,
  at: number,
): Promise<SubscriptionOutcome> {
  const row = await lockSubscription(trx, facts.subscriptionId);
  const d = decideSubscription(row ? toSubscriptionState(row) : null, facts, at);
  if (d.changed) {
    await saveSubscription(trx, {
      id: facts.subscriptionId,
      user_id: row?.user_id ?? order.user_id,
      order_id: row?.order_id ?? order.id,
      product_id: row?.product_id ?? product.id,
      plan: row ? row.plan : planOf(product),
      stripe_customer_id: facts.customerId ?? order.stripe_customer_id,
      stripe_price_id: facts.priceId,
      stripe_status: d.next.stripeStatus,
      status: d.next.status,
      current_period_end: fromSeconds(d.next.currentPeriodEnd),
      cancel_at_period_end: d.next.cancelAtPeriodEnd,
      status_stripe_at: new Date(d.next.statusAt * 1000),
    });
  }
  await syncPlanEntitlement(trx, row?.user_id ?? order.user_id);
  return { changed: d.changed, stale: d.stale, subscriptionId: facts.subscriptionId };
}

/**
 * What a subscription order's decision means for its subscription. The first paid invoice
 * says the subscription is active for the period it bills (Stripe moves `incomplete` to
 * `active` on it), so the plan follows even when `customer.subscription.*` events are late or
 * not subscribed to. Whatever the command (an admin override has none), a grant is then reconciled with the subscriptions,
 * so a late confirmation never resurrects a canceled plan.
 */
export async function afterSubscriptionOrderDecision(
  trx: Trx,
  order: OrderRow,
  product: Product,
  command: PaymentCommand | null,
  decision: Decision,
  at: number,
): Promise<SubscriptionOutcome | null> {
  if (command?.type === 'subscription_invoice_paid' && command.billingReason === 'subscription_create') {
    return applySubscriptionFacts(trx, order, product, {
      subscriptionId: command.subscriptionId,
      customerId: null,
      stripeStatus: 'active',
      cancelAtPeriodEnd: false,
      currentPeriodEnd: command.periodEnd,
      priceId: null,
      orderId: order.id,
      userId: order.user_id,
    }, at);
  }
  if (decision.effects.some((e) => e.type === 'grant')) await syncPlanEntitlement(trx, order.user_id);
  return null;
}
