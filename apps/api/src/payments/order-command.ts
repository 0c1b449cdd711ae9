import { lockOrder, lockOrderByRef, lockOrderOfDuplicatePayment, lockOrderOfSubscriptionRef, type OrderRow, type Trx } from '@settle/db';
import {
  decide,
  decideOverride,
  decideShadow,
  type Decision,
  type Disagreement,
  type Handler,
  type OrderRef,
  type OrderState,
  type OrderStatus,
  type Outcome,
  type PaymentCommand,
  type Rejection,
  type ShadowDecision,
  type SubscriptionRef,
} from '@settle/payments-core';
import type { Logger } from 'pino';
import { errorMessage } from '../lib/errors.js';
import type { Metrics } from '../lib/metrics.js';
import { applyDecision, type AppliedEffects, type DecisionSource } from './apply-decision.js';
import { toOrderState } from './order.mapper.js';
import { grantOfOrder, productOfOrder, type Product, type ProductCatalogue } from './product-catalogue.js';
import { afterOrderDecision } from './order-followups.js';
import { DIRECT_WRITES, type OrderUnitOfWork } from './order-unit-of-work.js';
import { readShadowState } from './shadow-state.js';
import { applySubscriptionCommand, isSubscriptionOnly } from './subscription-lifecycle.js';

/**
 * Which order a command is for: by Settle's id, or by what a Stripe event names (the order's
 * own references, else the subscription it started, found by subscription, invoice or the
 * PaymentIntent that paid one of its invoices).
 */
export type OrderTarget = { orderId: string } | { ref: OrderRef; subscription: SubscriptionRef };

/** What to do to the order. Each door (webhook, reconciler, admin) only builds one of these. */
export type OrderCommand =
  /** A fact from Stripe (an event, or the reconciler's reading of Stripe's current state). */
  | { kind: 'stripe'; command: PaymentCommand; customerEmail?: string | null }
  /** An admin moves the order to a chosen status; the reason goes into the audit trail. */
  | { kind: 'override'; to: OrderStatus; reason: string };

export type OrderCommandContext = {
  /** When the command happened, epoch seconds: Stripe's `created`, or the admin's clock. */
  at: number;
  catalogue: ProductCatalogue;
  /** For a shadow copy that cannot be read (processing goes on without the shadow). */
  logger: Logger;
  /** A batch's pooled reads and writes (see `OrderUnitOfWork`); none: read and write directly. */
  unit?: OrderUnitOfWork;
};

/** What one command did to one order, inside the caller's transaction. */
export type OrderChange = {
  status: 'decided';
  /** What was decided on: the order (a handler or override decision) or its subscription. */
  subject: 'order' | 'subscription';
  /**
   * `Outcome` of the decision; for a subscription-only command `subscription_changed`,
   * `payment_recorded` (an invoice's money, refund or dispute) or `trial_will_end`.
   */
  outcome: Outcome | 'subscription_changed' | 'payment_recorded' | 'trial_will_end';
  rejection: Rejection | null;
  /** The order before and after (the row after the change, still locked by the transaction). */
  from: OrderStatus;
  order: OrderRow;
  handler: Handler;
  transitions: AppliedEffects['transitions'];
  granted: number;
  revoked: number;
  restored: number;
  duplicatePayments: number;
  /** Whether the order's row (status, links, amounts) changed. */
  orderChanged: boolean;
  /** Whether a subscription (and so the user's plan) changed. */
  subscriptionChanged: boolean;
  /** Where the shadow (new) handler would have parted from the legacy one, newly recorded. */
  disagreement: Disagreement | null;
};

export type OrderCommandResult =
  | OrderChange
  /** No order matches the target (yet), or the subscription payment it names is not known yet. Nothing was written. */
  | { status: 'no_order' }
  /** An admin override that cannot apply (same status, no reason). Nothing was written. */
  | { status: 'refused'; code: 'SAME_STATUS' | 'REASON_REQUIRED'; message: string; order: OrderRow };

/**
 * Change an order: the one use case behind a Stripe event, a reconciliation and an admin
 * override. In the caller's transaction it locks the order, decides with the order's handler
 * strategy (legacy, new, or legacy with the new one in shadow), carries out the decision (order,
 * audit, grants, invoices) and its follow-ups (shadow copy, subscription and plan, customer
 * e-mail). Counting and notifying happen after the commit (`reportOrderChange`).
 */
export async function applyOrderCommand(
  trx: Trx,
  target: OrderTarget,
  command: OrderCommand,
  context: OrderCommandContext,
  source: DecisionSource,
): Promise<OrderCommandResult> {
  const { unit } = context;
  let row = unit && 'ref' in target ? unit.find(target.ref) : undefined;
  if (!row) {
    // The database is asked: it must hold what the batch has buffered.
    await unit?.writePending(trx);
    row = await lockTarget(trx, target);
  }
  if (!row) return { status: 'no_order' };
  // A plan order follows its product in the catalogue (plan changes); a one-time order needs only
  // what it was sold with, so a product retired since does not stop its refunds and disputes.
  const subscriptionOnly = command.kind === 'stripe' && isSubscriptionOnly(command.command, row);
  const product = row.mode === 'subscription' || subscriptionOnly ? productOfOrder(context.catalogue, row) : null;
  if (product && command.kind === 'stripe' && subscriptionOnly) {
    await unit?.writePending(trx);
    unit?.forget(row.id);
    return changeSubscription(trx, row, product, command.command, context, source);
  }
  const writes = unit?.writesFor(row) ?? DIRECT_WRITES;
  // An order the batch does not follow is read and written at once, by code that asks the database.
  if (unit && writes === DIRECT_WRITES) await unit.writePending(trx);
  // Refund commands are decided against the order's refund records (what was undone, and when).
  const refunds = command.kind === 'stripe' && (command.command.type === 'refund_changed' || command.command.type === 'charge_refunded')
    ? await writes.listRefunds(trx, row.id)
    : [];
  const before = toOrderState(row, refunds);
  const ctx = { at: context.at, grant: grantOfOrder(context.catalogue, row) };
  let decision: Decision;
  let shadow: { before: OrderState; decided: ShadowDecision } | null = null;
  if (command.kind === 'override') {
    const r = decideOverride(before, command.to, command.reason, ctx);
    if (!r.ok) return { status: 'refused', code: r.code, message: r.message, order: row };
    decision = r.decision;
  } else {
    // Shadow mode: legacy decides (and is carried out exactly as without a shadow); the new
    // handler decides the same command on its own copy, which is stored with any disagreement.
    const shadowBefore = row.handler === 'legacy' ? shadowStateOf(row, context.logger) : null;
    if (shadowBefore) shadow = { before: shadowBefore, decided: decideShadow(before, shadowBefore, command.command, ctx) };
    decision = shadow ? shadow.decided.decision : decide(before, command.command, ctx);
  }
  const { order, applied } = await applyDecision(trx, row, before, decision, source, unit);
  const follow = await afterOrderDecision(trx, {
    before: row,
    order,
    product,
    paymentCommand: command.kind === 'stripe' ? command.command : null,
    customerEmail: command.kind === 'stripe' ? command.customerEmail ?? null : null,
    decision,
    shadow,
    source,
    at: context.at,
    catalogue: context.catalogue,
    unit,
  });
  if (unit) {
    // The batch follows what this module writes to a one-time order; a subscription's follow-ups
    // or a shadow copy change the row out of its sight.
    const emailed = command.kind === 'stripe' && command.customerEmail && !row.customer_email ? command.customerEmail.slice(0, 320) : null;
    if (row.mode === 'payment' && !shadow && row.shadow_state === null) unit.remember(emailed ? { ...follow.order, customer_email: emailed } : follow.order);
    else unit.forget(row.id);
  }
  return {
    status: 'decided',
    subject: 'order',
    outcome: decision.outcome,
    rejection: decision.rejection,
    from: before.status,
    order: follow.order,
    handler: row.handler,
    ...applied,
    orderChanged: decision.outcome === 'applied' || decision.outcome === 'parked',
    subscriptionChanged: follow.subscriptionChanged,
    disagreement: follow.disagreement,
  };
}

/** Find and lock the order a target names (see `OrderTarget`). */
export async function lockTarget(trx: Trx, target: OrderTarget): Promise<OrderRow | undefined> {
  if ('orderId' in target) return lockOrder(trx, target.orderId);
  // Subscription events, invoices and a renewal's money may carry no order id: their subscription leads to the order.
  // A duplicate payment's refunds name its PaymentIntent, which only the duplicate record knows.
  return (
    (await lockOrderByRef(trx, target.ref)) ??
    (await lockOrderOfSubscriptionRef(trx, target.subscription))?.order ??
    (await lockOrderOfDuplicatePayment(trx, target.ref.paymentIntentId))
  );
}

async function changeSubscription(
  trx: Trx,
  row: OrderRow,
  product: Product,
  command: PaymentCommand,
  context: OrderCommandContext,
  source: DecisionSource,
): Promise<OrderCommandResult> {
  const sub = await applySubscriptionCommand(trx, { catalogue: context.catalogue }, row, product, command, context.at, source);
  // The payment a link, refund or dispute names is not recorded yet: like an order not created yet.
  if (sub.outcome === 'unmatched') return { status: 'no_order' };
  const status = toOrderState(row).status;
  return {
    status: 'decided',
    subject: 'subscription',
    outcome: sub.outcome,
    rejection: null,
    from: status,
    order: row,
    handler: row.handler,
    transitions: [],
    granted: 0,
    revoked: 0,
    restored: 0,
    duplicatePayments: 0,
    orderChanged: false,
    subscriptionChanged: sub.changed,
    disagreement: null,
  };
}

/** A malformed shadow copy must never hold up the authoritative (legacy) processing. */
function shadowStateOf(row: OrderRow, logger: Logger): OrderState | null {
  try {
    return readShadowState(row);
  } catch (err) {
    logger.error({ orderId: row.id, err: errorMessage(err) }, 'shadow state unreadable; processing without the shadow');
    return null;
  }
}

/** The label an inbox event is settled with: the outcome, with the failed check when one failed. */
export function outcomeLabel(change: OrderChange): string {
  return change.rejection ? `${change.outcome}:${change.rejection.code}` : change.outcome;
}

/**
 * Count what a committed change did, whichever door it came through. Called after the commit:
 * a rolled-back transaction is processed again and must not be counted twice.
 */
export function reportOrderChange(metrics: Metrics, logger: Logger, change: OrderChange, source: DecisionSource): void {
  if (change.disagreement) {
    metrics.shadowDisagreements.inc({ kind: change.disagreement.kind });
    logger.info({ orderId: change.order.id, eventId: source.eventId, ...change.disagreement }, 'shadow handler disagrees with legacy');
  }
  const handler = change.handler;
  for (const t of change.transitions) metrics.transitions.inc({ from: t.from, to: t.to, cause: source.cause, handler });
  if (change.granted) metrics.grants.inc({ action: 'grant', handler }, change.granted);
  if (change.revoked) metrics.grants.inc({ action: 'revoke', handler }, change.revoked);
  if (change.restored) metrics.grants.inc({ action: 'restore', handler }, change.restored);
  if (change.duplicatePayments) metrics.duplicatePayments.inc(change.duplicatePayments);
}
