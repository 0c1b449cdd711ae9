import {
  findSubscriptionPaymentByMoney,
  insertSubscriptionHistory,
  listSubscriptionPayments,
  listSubscriptionsForUser,
  lockEntitlementRow,
  lockSubscription,
  lockSubscriptionPayment,
  saveSubscription,
  saveSubscriptionPayment,
  setPlanEntitlement,
  updateOrder,
  type NewSubscriptionHistory,
  type OrderRow,
  type SubscriptionPaymentRow,
  type SubscriptionRow,
  type Trx,
} from '@settle/db';
import {
  decideSubscription,
  describePaymentChange,
  firstInvoiceFacts,
  isMoneyBackCommand,
  mergeSubscriptionPayment,
  paymentChanged,
  paymentFromInvoice,
  planPriceOf,
  planEntitlementOf,
  type InvoiceFacts,
  type PaymentCommand,
  type SubscriptionFacts,
  type SubscriptionPayment,
  type SubscriptionPaymentChange,
  type SubscriptionState,
} from '@settle/payments-core';
import type { Product, ProductCatalogue } from './product-catalogue.js';
import { fromSeconds, toPlanSubscription, toSubscriptionPayment, toSubscriptionPaymentRow, toSubscriptionState } from './subscription.mapper.js';

/**
 * What happens to a subscription and its payments. The order that started a subscription is
 * its lock: every change here runs in the caller's transaction, which holds that order's row
 * lock (lock order: order, subscription, payment, entitlement), so one subscription's facts are
 * applied one at a time whichever instance and door (webhook, reconciler) they come through.
 */

export type SubscriptionDeps = { catalogue: ProductCatalogue };

/** Who and what is behind a change, for the subscription's timeline. */
export type SubscriptionChangeSource = {
  cause: 'stripe_event' | 'admin' | 'reconciler' | 'system';
  actor: string;
  eventId: string | null;
  /** Stripe's time of the fact, epoch seconds. */
  stripeAt: number | null;
};

export type SubscriptionOutcome = { changed: boolean; stale: boolean; subscriptionId: string };

export const planOf = (product: Product): string | null => ('plan' in product.grant ? product.grant.plan : null);

/**
 * Bring a user's plan entitlement in line with their subscriptions and the money behind them
 * (see `planEntitlementOf`). A user without subscriptions keeps what grants gave them.
 */
export async function syncPlanEntitlement(trx: Trx, userId: string): Promise<void> {
  // Lock first, read after: a concurrent change to another subscription of this user has then
  // committed (it took this lock too), so the plan is computed from every subscription's latest state.
  await lockEntitlementRow(trx, userId);
  const subs = await listSubscriptionsForUser(trx, userId);
  const payments = await listSubscriptionPayments(trx, subs.map((s) => s.id));
  const e = planEntitlementOf(subs.map((s) => toPlanSubscription(s, payments)));
  if (!e) return;
  await setPlanEntitlement(trx, userId, { plan: e.plan, subscriptionStatus: e.subscriptionStatus, planPeriodEnd: fromSeconds(e.planPeriodEnd) });
}

async function writeHistory(
  trx: Trx,
  source: SubscriptionChangeSource,
  row: Omit<NewSubscriptionHistory, 'cause' | 'actor' | 'event_id' | 'stripe_at'>,
): Promise<void> {
  await insertSubscriptionHistory(trx, {
    ...row,
    cause: source.cause,
    actor: source.actor,
    event_id: source.eventId,
    stripe_at: fromSeconds(source.stripeAt),
  });
}

function statusReason(facts: SubscriptionFacts): string {
  const parts = [`Stripe: ${facts.stripeStatus}`];
  if (facts.cancelAtPeriodEnd) parts.push('cancels at period end');
  if (facts.stripeStatus === 'unpaid') parts.push('payment retries exhausted');
  if (facts.stripeStatus === 'trialing' && facts.trialEnd) parts.push(`trial until ${new Date(facts.trialEnd * 1000).toISOString()}`);
  return parts.join('; ');
}

/**
 * Apply one subscription fact from an event created at `at`: keep the newer version (and the
 * newest known plan), write the timeline, then update the user's plan. Facts Settle infers
 * (`firstInvoiceFacts`) only ever start a subscription or move it out of `incomplete`, and give
 * way to what Stripe's subscription objects say (see `decideSubscription`).
 */
export async function applySubscriptionFacts(
  trx: Trx,
  deps: SubscriptionDeps,
  order: OrderRow,
  product: Product,
  facts: SubscriptionFacts,
  at: number,
  source: SubscriptionChangeSource,
  opts: { notice?: 'trial_will_end' | undefined } = {},
): Promise<SubscriptionOutcome> {
  const row = await lockSubscription(trx, facts.subscriptionId);
  const userId = row?.user_id ?? order.user_id;
  const current = row ? toSubscriptionState(row) : null;
  const d = decideSubscription(current, facts, at, deps.catalogue.planOfPriceFor(product), planOf(product));
  if (d.changed) {
    const next = d.next;
    await saveSubscription(trx, {
      id: facts.subscriptionId,
      user_id: userId,
      order_id: row?.order_id ?? order.id,
      product_id: row?.product_id ?? product.id,
      plan: next.plan,
      plan_stripe_at: next.planAt > 0 ? new Date(next.planAt * 1000) : null,
      unknown_price_id: next.unknownPriceId,
      stripe_customer_id: facts.customerId ?? order.stripe_customer_id,
      stripe_price_id: next.priceId,
      stripe_status: next.stripeStatus,
      status: next.status,
      current_period_end: fromSeconds(next.currentPeriodEnd),
      cancel_at: fromSeconds(next.cancelAt),
      cancel_at_period_end: next.cancelAtPeriodEnd,
      status_stripe_at: new Date(next.statusAt * 1000),
      status_inferred: next.inferred,
      // An inference's guess at a trial is written only while the status is that inference's (Stripe's trial_end always is).
      trial_end: facts.inferred && !next.inferred ? null : fromSeconds(facts.trialEnd),
      latest_invoice_id: next.statusAt === at ? facts.latestInvoiceId : null,
    });
    const id = facts.subscriptionId;
    if (!current || current.status !== next.status) {
      await writeHistory(trx, source, { subscription_id: id, kind: 'status', from_status: current?.status ?? null, to_status: next.status, reason: statusReason(facts) });
    }
    if ((current?.plan ?? null) !== next.plan && current) {
      await writeHistory(trx, source, {
        subscription_id: id, kind: 'plan', from_plan: current.plan, to_plan: next.plan, reason: `item moved to price ${next.priceId ?? 'unknown'}`,
      });
    }
    if (next.unknownPriceId && next.unknownPriceId !== current?.unknownPriceId) {
      await writeHistory(trx, source, {
        subscription_id: id, kind: 'review', from_plan: current?.plan ?? null, to_plan: next.plan,
        reason: `price ${next.unknownPriceId} is not in the catalogue: plan ${next.plan ?? 'none'} kept until an admin reviews it`,
      });
    }
  }
  if (opts.notice === 'trial_will_end') {
    await writeHistory(trx, source, {
      subscription_id: facts.subscriptionId, kind: 'notice',
      reason: `trial will end${facts.trialEnd ? ` at ${new Date(facts.trialEnd * 1000).toISOString()}` : ''}`,
    });
  }
  await syncPlanEntitlement(trx, userId);
  // Written when only Stripe's clocks moved (the same facts read later), but not reported as a
  // change: no drift, no live-status push, `noop` as the event's outcome.
  return { changed: d.moved, stale: d.stale, subscriptionId: facts.subscriptionId };
}

export type PaymentTarget = { invoiceId: string } | { paymentIntentId: string };

/**
 * Merge one fact into a payment of a subscription (see `mergeSubscriptionPayment`) and write
 * the timeline. An invoice creates its payment; a link, refund or dispute needs the payment to
 * exist (`found: false` otherwise, and nothing is written).
 */
export async function recordSubscriptionPayment(
  trx: Trx,
  deps: SubscriptionDeps,
  subscriptionId: string,
  target: PaymentTarget,
  fact: SubscriptionPaymentChange,
  source: SubscriptionChangeSource,
): Promise<{ found: boolean; changed: boolean; payment: SubscriptionPayment | null }> {
  // An invoice of a plan with add-ons bills several prices; its payment shows the one the plan
  // follows (`planPriceOf`), not whichever line Stripe listed first.
  const change: SubscriptionPaymentChange = fact.kind === 'invoice' && fact.invoice.priceIds
    ? { ...fact, invoice: { ...fact.invoice, priceId: planPriceOf(fact.invoice, deps.catalogue.planOfPrice) } }
    : fact;
  const invoiceId = 'invoiceId' in target
    ? target.invoiceId
    : (await findSubscriptionPaymentByMoney(trx, { paymentIntentId: target.paymentIntentId }))?.invoice_id;
  const row = invoiceId ? await lockSubscriptionPayment(trx, invoiceId) : undefined;
  const before = row ? toSubscriptionPayment(row) : null;
  let after: SubscriptionPayment;
  if (before) after = mergeSubscriptionPayment(before, change);
  else if (change.kind === 'invoice') after = paymentFromInvoice(change.invoice, subscriptionId);
  else return { found: false, changed: false, payment: null };
  if (!paymentChanged(before, after)) return { found: true, changed: false, payment: after };
  await saveSubscriptionPayment(trx, toSubscriptionPaymentRow(after));
  const notes = describePaymentChange(before, after);
  if (notes.length > 0) {
    await writeHistory(trx, source, { subscription_id: after.subscriptionId, kind: 'payment', invoice_id: after.invoiceId, reason: notes.join('; ') });
  }
  return { found: true, changed: true, payment: after };
}

/** The payment change a money-back command means (refund total, one refund, dispute opened or closed), as at `at`. */
function moneyBackChange(command: PaymentCommand, at: number): SubscriptionPaymentChange | null {
  switch (command.type) {
    case 'charge_refunded':
      return { kind: 'refunded', amountRefunded: command.amountRefunded, at };
    case 'refund_changed':
      return { kind: 'refund', refundId: command.refund.refundId, amount: command.refund.amount, status: command.refund.status, at };
    case 'dispute_opened':
      return { kind: 'dispute', disputeId: command.disputeId, status: 'open' };
    case 'dispute_closed':
      return { kind: 'dispute', disputeId: command.disputeId, status: command.outcome };
    default:
      return null;
  }
}

/**
 * Commands that concern only the subscription (never the order's status): Stripe's subscription
 * objects, invoice payment links, the attempts of a plan's PaymentIntents, and money going back
 * on a renewal (a payment that is not the order's own).
 */
export function isSubscriptionOnly(command: PaymentCommand, order: OrderRow): boolean {
  if (command.type === 'subscription_changed' || command.type === 'invoice_payment_linked') return true;
  if (order.mode !== 'subscription') return false;
  // A plan is confirmed by its paid invoice alone: the PaymentIntent behind it (linked to the
  // order for its refunds and disputes) does not move the order.
  if (PAYMENT_ATTEMPT_COMMANDS.includes(command.type)) return true;
  return isMoneyBackCommand(command) && order.payment_intent_id !== command.paymentIntentId;
}

const PAYMENT_ATTEMPT_COMMANDS: readonly PaymentCommand['type'][] = [
  'payment_created', 'payment_processing', 'payment_requires_action', 'payment_succeeded', 'payment_failed', 'payment_canceled',
];

/**
 * Apply a subscription-only command (see `isSubscriptionOnly`) under the order's lock. Returns
 * the event's outcome: `stale`, `subscription_changed`, `payment_recorded`, `noop`, or
 * `unmatched` when the payment it names is not known yet (the event is tried again later).
 */
export async function applySubscriptionCommand(
  trx: Trx,
  deps: SubscriptionDeps,
  order: OrderRow,
  product: Product,
  command: PaymentCommand,
  at: number,
  source: SubscriptionChangeSource,
): Promise<{ outcome: 'stale' | 'subscription_changed' | 'payment_recorded' | 'trial_will_end' | 'noop' | 'unmatched'; changed: boolean }> {
  if (command.type === 'subscription_changed') {
    const sub = await applySubscriptionFacts(trx, deps, order, product, command.subscription, at, source, { notice: command.notice });
    const outcome = sub.stale ? 'stale' : sub.changed ? 'subscription_changed' : command.notice ?? 'noop';
    return { outcome, changed: sub.changed };
  }
  if (command.type === 'invoice_payment_linked') {
    if (!command.paid) return { outcome: 'noop', changed: false };
    const r = await recordSubscriptionPayment(trx, deps, '', { invoiceId: command.invoiceId }, {
      kind: 'linked', paymentIntentId: command.paymentIntentId, chargeId: command.chargeId,
    }, source);
    if (!r.found) return { outcome: 'unmatched', changed: false };
    // The first invoice's money is the order's payment: link it, so its refunds and disputes move the order too.
    if (r.payment?.billingReason === 'subscription_create' && !order.payment_intent_id && command.paymentIntentId) {
      await updateOrder(trx, order.id, { payment_intent_id: command.paymentIntentId });
    }
    await syncPlanEntitlement(trx, order.user_id);
    return { outcome: r.changed ? 'payment_recorded' : 'noop', changed: r.changed };
  }
  const change = moneyBackChange(command, at);
  if (!change || !isMoneyBackCommand(command)) return { outcome: 'noop', changed: false };
  const r = await recordSubscriptionPayment(trx, deps, '', { paymentIntentId: command.paymentIntentId }, change, source);
  if (!r.found) return { outcome: 'unmatched', changed: false };
  await syncPlanEntitlement(trx, order.user_id);
  return { outcome: r.changed ? 'payment_recorded' : 'noop', changed: r.changed };
}

/**
 * What a subscription order's decision means for its subscription and payments: every invoice
 * is recorded as a payment; the first paid invoice completes an incomplete subscription (as
 * `trialing` when nothing was due), so the plan follows even when `customer.subscription.*`
 * events are late or not subscribed to; refunds and disputes of the order's own payment are
 * recorded on the first invoice. The plan is then recomputed, so a late confirmation never
 * resurrects a canceled plan and money taken back takes it.
 */
export async function afterSubscriptionOrderDecision(
  trx: Trx,
  deps: SubscriptionDeps,
  order: OrderRow,
  product: Product,
  command: PaymentCommand | null,
  at: number,
  source: SubscriptionChangeSource,
): Promise<SubscriptionOutcome | null> {
  let outcome: SubscriptionOutcome | null = null;
  const invoice = command && 'invoice' in command ? command.invoice : null;
  if (invoice?.subscriptionId) {
    const r = await recordSubscriptionPayment(trx, deps, invoice.subscriptionId, { invoiceId: invoice.invoiceId }, { kind: 'invoice', invoice }, source);
    outcome = { changed: r.changed, stale: false, subscriptionId: invoice.subscriptionId };
    if (command?.type === 'subscription_invoice_paid' && command.billingReason === 'subscription_create') {
      const facts = firstInvoiceFacts(invoice, invoice.subscriptionId, { orderId: order.id, userId: order.user_id });
      const sub = await applySubscriptionFacts(trx, deps, order, product, facts, at, source);
      outcome = { ...sub, changed: sub.changed || r.changed };
    }
  }
  const change = command ? moneyBackChange(command, at) : null;
  if (change && command && isMoneyBackCommand(command)) {
    const r = await recordSubscriptionPayment(trx, deps, '', { paymentIntentId: command.paymentIntentId }, change, source);
    if (r.payment) outcome = { changed: r.changed, stale: false, subscriptionId: r.payment.subscriptionId };
  }
  await syncPlanEntitlement(trx, order.user_id);
  return outcome;
}
