import {
  STATUS_RANK,
  canTransition,
  isPaid,
  type Handler,
  type OrderStatus,
} from './order-state.js';
import type { InvoiceFacts, PaymentCommand, RefundFacts, RefundStatus } from './payment-command.js';
import { validateConfirmation, type PaymentFacts, type Rejection } from './confirmation.js';

/** What a paid order gives its buyer, from the product catalogue. */
export type GrantSpec =
  | { kind: 'credits'; credits: number; partialRefund: 'proportional' | 'none' }
  | { kind: 'plan'; plan: string };

export type DisputeStatus = 'open' | 'won' | 'lost';

/**
 * A refund of the order's own payment as Settle knows it. `undoneAt` is the Stripe time its
 * failure or cancellation was applied: a charge's refunded total from before then still counts it.
 */
export type RefundRecord = { refundId: string; amount: number; status: RefundStatus; undoneAt: number | null };

/** A refund that did not move money: the merchant kept it. */
export const isUndoneRefundStatus = (status: RefundStatus): boolean => status === 'failed' || status === 'canceled';

/** The order as the state machine sees it. Times are Stripe's, in epoch seconds. */
export type OrderState = {
  id: string;
  userId: string;
  status: OrderStatus;
  handler: Handler;
  amount: number;
  currency: string;
  checkoutSessionId: string | null;
  paymentIntentId: string | null;
  /** Stripe `created` of the event that set `status` (null: set by Settle itself). */
  statusAt: number | null;
  paidAt: number | null;
  amountRefunded: number;
  disputeId: string | null;
  disputeStatus: DisputeStatus | null;
  statusBeforeDispute: OrderStatus | null;
  reviewReason: string | null;
  failureReason: string | null;
  /** Refunds of the order's payment seen so far (records of their own, kept beside the order). */
  refunds: readonly RefundRecord[];
};

export type Effect =
  | { type: 'audit'; from: OrderStatus; to: OrderStatus; reason: string | null }
  | { type: 'grant'; grant: GrantSpec }
  /**
   * Bring the revoked part of the order's grant up to `creditsRevoked` (a running total, so
   * carrying it out twice revokes nothing more); for a plan, `creditsRevoked` is 0 and the
   * plan is taken back.
   */
  | { type: 'revoke'; grant: GrantSpec; creditsRevoked: number; reason: 'refund' | 'chargeback' }
  /**
   * Bring the revoked part of the order's grant back down to `creditsRevoked` (a refund failed):
   * the difference is credited again; a plan taken back by a full refund is given back.
   */
  | { type: 'restore'; grant: GrantSpec; creditsRevoked: number; reason: 'refund_failed' }
  | { type: 'record_invoice'; invoice: InvoiceFacts }
  /** Keep the refund's own record (amount, status, reason, times) up to date. */
  | { type: 'record_refund'; refund: RefundFacts; undoneAt: number | null }
  /** A second successful payment for an order already paid: the customer was charged twice. */
  | { type: 'record_duplicate_payment'; paymentIntentId: string; amount: number; currency: string; at: number }
  /** Stripe's refunded total of a duplicate payment (its refund went through, not the order's). */
  | { type: 'record_duplicate_refund'; paymentIntentId: string; amountRefunded: number };

export type Outcome =
  /** The order changed (status, links or amounts). */
  | 'applied'
  /** Nothing to do: the command was already applied, or carries nothing new. */
  | 'noop'
  /** Older than what set the current status. */
  | 'stale'
  /** The command does not apply to an order in this status. */
  | 'not_applicable'
  /** A business check failed; the order now waits for an admin. */
  | 'parked'
  /** The order waits for an admin; events are recorded but not applied. */
  | 'under_review'
  /** Recorded beside the order (an invoice); its status is untouched. */
  | 'recorded';

export type Decision = {
  outcome: Outcome;
  next: OrderState;
  effects: Effect[];
  /** The failed business check, when one failed. */
  rejection: Rejection | null;
};

export type DecideContext = {
  /** Stripe `created` of the event behind the command (epoch seconds). */
  at: number;
  grant: GrantSpec;
};

function result(order: OrderState, next: OrderState, effects: Effect[], fallback: Outcome = 'noop'): Decision {
  const changed = (Object.keys(next) as (keyof OrderState)[]).some((k) => next[k] !== order[k]);
  return { outcome: changed || effects.length > 0 ? 'applied' : fallback, next, effects, rejection: null };
}

function unchanged(order: OrderState, outcome: Outcome, rejection: Rejection | null = null): Decision {
  return { outcome, next: order, effects: [], rejection };
}

/** Fill in the Stripe ids an order does not know yet; never overwrite a known one. */
function link(order: OrderState, ids: { checkoutSessionId?: string | null; paymentIntentId?: string | null }): OrderState {
  return {
    ...order,
    checkoutSessionId: order.checkoutSessionId ?? ids.checkoutSessionId ?? null,
    paymentIntentId: order.paymentIntentId ?? ids.paymentIntentId ?? null,
  };
}

type Ordering = 'ok' | 'same' | 'not_allowed' | 'stale';

/**
 * Whether an event from `at` may move the order to `to`. Progress (a higher rank) always may;
 * otherwise only a strictly newer event may, so a late, older event never undoes a newer one.
 */
export function ordering(order: OrderState, to: OrderStatus, at: number): Ordering {
  if (order.status === to) return 'same';
  if (!canTransition(order.status, to)) return 'not_allowed';
  if (order.statusAt === null || at > order.statusAt) return 'ok';
  return STATUS_RANK[to] > STATUS_RANK[order.status] ? 'ok' : 'stale';
}

function move(
  order: OrderState,
  base: OrderState,
  to: OrderStatus,
  ctx: DecideContext,
  reason: string | null,
  patch: Partial<OrderState> = {},
): Decision {
  const verdict = ordering(order, to, ctx.at);
  if (verdict === 'same') return result(order, base, []);
  if (verdict === 'stale') return result(order, base, [], 'stale');
  if (verdict === 'not_allowed') return result(order, base, [], 'not_applicable');
  const next: OrderState = { ...base, ...patch, status: to, statusAt: ctx.at };
  return result(order, next, [{ type: 'audit', from: order.status, to, reason }]);
}

/** Move an order that failed a business check to `needs_review`, whatever the event's age. */
export function parkForReview(order: OrderState, base: OrderState, rejection: Rejection, ctx: DecideContext): Decision {
  if (!canTransition(order.status, 'needs_review')) return unchanged(order, 'not_applicable', rejection);
  const reason = `${rejection.code}: ${rejection.message}`;
  return {
    outcome: 'parked',
    next: { ...base, status: 'needs_review', statusAt: ctx.at, reviewReason: reason },
    effects: [{ type: 'audit', from: order.status, to: 'needs_review', reason }],
    rejection,
  };
}

/** The one place an order becomes paid: the validation chain, then `succeeded` and its grant. */
export function confirmPayment(order: OrderState, payment: PaymentFacts, ctx: DecideContext): Decision {
  const check = validateConfirmation(order, payment);
  if (!check.ok) {
    if (check.rejection.code === 'ALREADY_CONFIRMED') return unchanged(order, 'noop');
    if (check.rejection.code === 'DUPLICATE_PAYMENT') return recordDuplicatePayment(order, payment, check.rejection, ctx);
    return parkForReview(order, link(order, { paymentIntentId: payment.paymentIntentId }), check.rejection, ctx);
  }
  const base = link(order, { paymentIntentId: payment.paymentIntentId });
  const d = move(order, base, 'succeeded', ctx, payment.reason, { paidAt: ctx.at, failureReason: null });
  if (d.outcome !== 'applied' || d.next.status !== 'succeeded') return d;
  let effects: Effect[] = [...d.effects, { type: 'grant', grant: ctx.grant }];
  let next = d.next;
  // Refunds and disputes seen before this payment were recorded on the order: settle them now,
  // after the grant, so what was taken back is revoked.
  if (next.amountRefunded > 0) {
    const settled = settleRefund(next, next, ctx);
    effects = [...effects, ...settled.effects];
    next = settled.next;
  }
  if (next.disputeId) {
    const settled = settleRecordedDispute(next, ctx);
    effects = [...effects, ...settled.effects];
    next = settled.next;
  }
  return { ...d, next, effects };
}

/**
 * The order stays as it is (it was paid once, and granted once); the second payment is recorded
 * beside it so an operator sees it and can refund it.
 */
function recordDuplicatePayment(order: OrderState, payment: PaymentFacts, rejection: Rejection, ctx: DecideContext): Decision {
  if (!payment.paymentIntentId) return unchanged(order, 'not_applicable', rejection);
  return {
    outcome: 'recorded',
    next: order,
    effects: [{
      type: 'record_duplicate_payment',
      paymentIntentId: payment.paymentIntentId,
      amount: payment.amount ?? 0,
      currency: (payment.currency ?? order.currency).toLowerCase(),
      at: ctx.at,
    }],
    rejection,
  };
}

function settleRecordedDispute(order: OrderState, ctx: DecideContext): Decision {
  const at = Math.max(ctx.at, order.statusAt ?? ctx.at);
  if (order.disputeStatus === 'open' && canTransition(order.status, 'disputed')) {
    return result(order, { ...order, status: 'disputed', statusAt: at, statusBeforeDispute: order.status }, [
      { type: 'audit', from: order.status, to: 'disputed', reason: `dispute ${order.disputeId} opened` },
    ]);
  }
  if (order.disputeStatus === 'lost' && canTransition(order.status, 'charged_back')) {
    return result(order, { ...order, status: 'charged_back', statusAt: at }, [
      { type: 'audit', from: order.status, to: 'charged_back', reason: `dispute ${order.disputeId} lost` },
      { type: 'revoke', grant: ctx.grant, creditsRevoked: ctx.grant.kind === 'credits' ? ctx.grant.credits : 0, reason: 'chargeback' },
    ]);
  }
  return unchanged(order, 'noop');
}

function creditsToRevoke(grant: GrantSpec, order: OrderState, amountRefunded: number): number {
  if (grant.kind !== 'credits') return 0;
  if (amountRefunded >= order.amount) return grant.credits;
  if (grant.partialRefund === 'none' || order.amount <= 0) return 0;
  return Math.floor((grant.credits * amountRefunded) / order.amount);
}

/** Another payment than the order's own (a duplicate): its refunds never move the order. */
function isOtherPayment(order: OrderState, paymentIntentId: string): boolean {
  return order.paymentIntentId !== null && order.paymentIntentId !== paymentIntentId;
}

/**
 * A charge's refunded total at time `at`. Refunds undone (failed, canceled) at or after `at`
 * were still counted in it; Stripe's later totals leave them out.
 */
function chargeRefundedTotal(order: OrderState, amountRefunded: number, at: number): number {
  const undoneSince = order.refunds.filter((r) => r.undoneAt !== null && r.undoneAt >= at).reduce((sum, r) => sum + r.amount, 0);
  return Math.max(0, amountRefunded - undoneSince);
}

function chargeRefunded(order: OrderState, paymentIntentId: string, amountRefunded: number, ctx: DecideContext): Decision {
  if (isOtherPayment(order, paymentIntentId)) {
    return { outcome: 'recorded', next: order, effects: [{ type: 'record_duplicate_refund', paymentIntentId, amountRefunded }], rejection: null };
  }
  return refund(order, order, chargeRefundedTotal(order, amountRefunded, ctx.at), ctx);
}

function refund(order: OrderState, base: OrderState, amountRefunded: number, ctx: DecideContext): Decision {
  if (order.status === 'charged_back') return result(order, base, [], 'not_applicable');
  // Refunded totals only grow, so the largest one seen is the truth whatever the arrival order.
  const total = Math.max(order.amountRefunded, amountRefunded);
  if (total === order.amountRefunded) return result(order, base, [], 'noop');
  if (total > order.amount && isPaid(order.status)) {
    // Stripe never refunds more than was charged; more than the order's price is a charge this
    // order does not know about. Nothing is revoked on a guess: an admin looks.
    return parkForReview(order, base, {
      code: 'REFUND_EXCEEDS_PAYMENT',
      message: `refunded ${total} ${order.currency}, more than the ${order.amount} paid`,
    }, ctx);
  }
  // Delivered before the payment it refunds: keep the total; `confirmPayment` settles it.
  if (!isPaid(order.status)) return result(order, { ...base, amountRefunded: total }, []);
  return settleRefund(order, { ...base, amountRefunded: total }, ctx);
}

function upsertRefund(refunds: readonly RefundRecord[], record: RefundRecord): RefundRecord[] {
  return [...refunds.filter((r) => r.refundId !== record.refundId), record];
}

/**
 * A refund was created or moved. A live one raises the refunded total to at least the sum of the
 * live refunds; a failed or canceled one is undone once: its amount comes off the total and the
 * order, its status and its grant return to what they were without it.
 */
function refundChanged(order: OrderState, facts: RefundFacts, ctx: DecideContext): Decision {
  const prior = order.refunds.find((r) => r.refundId === facts.refundId);
  // Seen (and, when it failed, undone) already: a redelivery changes nothing.
  if (prior && prior.status === facts.status && prior.amount === facts.amount && (prior.undoneAt !== null) === isUndoneRefundStatus(facts.status)) {
    return unchanged(order, 'noop');
  }
  if (isOtherPayment(order, facts.paymentIntentId)) {
    return { outcome: 'recorded', next: order, effects: [{ type: 'record_refund', refund: facts, undoneAt: null }], rejection: null };
  }
  const undo = isUndoneRefundStatus(facts.status);
  const alreadyUndone = prior?.undoneAt != null;
  const undoneAt = undo ? (alreadyUndone ? prior!.undoneAt : ctx.at) : null;
  const record: RefundRecord = { refundId: facts.refundId, amount: facts.amount, status: facts.status, undoneAt: alreadyUndone ? prior!.undoneAt : undoneAt };
  const recordEffect: Effect = { type: 'record_refund', refund: facts, undoneAt: record.undoneAt };
  const unchangedRecord = prior && prior.status === record.status && prior.amount === record.amount && prior.undoneAt === record.undoneAt;
  const base: OrderState = unchangedRecord ? order : { ...order, refunds: upsertRefund(order.refunds, record) };
  // Only the refund's own record changed: `recorded`, like an invoice beside the order.
  const movesOrder = (d: Decision) => d.next.status !== order.status || d.next.amountRefunded !== order.amountRefunded || d.effects.length > 0;
  const recorded = (d: Decision): Decision => ({
    ...d,
    outcome: d.outcome === 'noop' || (d.outcome === 'applied' && !movesOrder(d)) ? 'recorded' : d.outcome,
    effects: [...d.effects, recordEffect],
  });
  if (!undo) {
    const live = base.refunds.filter((r) => !isUndoneRefundStatus(r.status)).reduce((sum, r) => sum + r.amount, 0);
    return recorded(refund(order, base, live, ctx));
  }
  if (alreadyUndone) return recorded(result(order, base, [], 'noop'));
  const total = Math.max(0, order.amountRefunded - facts.amount);
  if (total === order.amountRefunded) return recorded(result(order, base, [], 'noop'));
  const reason = `refund ${facts.refundId} ${facts.status}${facts.failureReason ? `: ${facts.failureReason}` : ''}`;
  return recorded(undoRefund(order, { ...base, amountRefunded: total }, ctx, reason));
}

/** Return a paid order to the status and grant its (lower) refunded total calls for. */
function undoRefund(order: OrderState, base: OrderState, ctx: DecideContext, reason: string): Decision {
  // Not paid yet, or the money went back through a lost dispute: only the total changes.
  if (!isPaid(order.status) || order.status === 'charged_back') return result(order, base, []);
  const total = base.amountRefunded;
  const wasFull = order.amountRefunded >= order.amount;
  const target = creditsToRevoke(ctx.grant, order, total);
  const restore: Effect[] =
    ctx.grant.kind === 'credits'
      ? [{ type: 'restore', grant: ctx.grant, creditsRevoked: target, reason: 'refund_failed' }]
      : wasFull && total < order.amount
        ? [{ type: 'restore', grant: ctx.grant, creditsRevoked: 0, reason: 'refund_failed' }]
        : [];
  const back: OrderStatus = total === 0 ? 'succeeded' : total >= order.amount ? 'refunded' : 'partially_refunded';
  if (order.status === 'disputed') return result(order, { ...base, statusBeforeDispute: back }, restore);
  if (order.status === back) return result(order, base, restore);
  const at = Math.max(ctx.at, order.statusAt ?? ctx.at);
  return result(order, { ...base, status: back, statusAt: at }, [{ type: 'audit', from: order.status, to: back, reason }, ...restore]);
}

/** Move a paid order to the status its refunded total (`base.amountRefunded`) calls for. */
function settleRefund(order: OrderState, base: OrderState, ctx: DecideContext): Decision {
  const total = base.amountRefunded;
  const full = total >= order.amount;
  const settled: OrderStatus = full ? 'refunded' : 'partially_refunded';
  const revoke = creditsToRevoke(ctx.grant, order, total);
  const revokeEffect: Effect[] =
    revoke > 0 || (full && ctx.grant.kind === 'plan')
      ? [{ type: 'revoke', grant: ctx.grant, creditsRevoked: revoke, reason: 'refund' }]
      : [];
  if (order.status === 'disputed' && !full) {
    return result(order, { ...base, statusBeforeDispute: 'partially_refunded' }, revokeEffect);
  }
  if (order.status === settled) return result(order, base, revokeEffect);
  const d = move(order, base, settled, { ...ctx, at: Math.max(ctx.at, order.statusAt ?? ctx.at) }, full ? 'refunded in full' : 'partial refund');
  return { ...d, effects: [...d.effects, ...revokeEffect] };
}

function disputeOpened(order: OrderState, disputeId: string, ctx: DecideContext): Decision {
  if (order.disputeId === disputeId) return unchanged(order, 'noop');
  // Delivered before the payment it disputes: record it; `confirmPayment` settles it.
  if (!isPaid(order.status) && order.disputeId === null) return result(order, { ...order, disputeId, disputeStatus: 'open' }, []);
  if (!canTransition(order.status, 'disputed')) return unchanged(order, 'not_applicable');
  const next: OrderState = {
    ...order,
    status: 'disputed',
    statusAt: Math.max(ctx.at, order.statusAt ?? ctx.at),
    disputeId,
    disputeStatus: 'open',
    statusBeforeDispute: order.status,
  };
  return result(order, next, [{ type: 'audit', from: order.status, to: 'disputed', reason: `dispute ${disputeId} opened` }]);
}

function disputeClosed(order: OrderState, disputeId: string, won: boolean, ctx: DecideContext): Decision {
  const disputeStatus: DisputeStatus = won ? 'won' : 'lost';
  if (order.disputeId === disputeId && order.disputeStatus !== 'open') return unchanged(order, 'noop');
  if (!isPaid(order.status)) {
    return order.disputeId === null || order.disputeId === disputeId
      ? result(order, { ...order, disputeId, disputeStatus }, [])
      : unchanged(order, 'not_applicable');
  }
  const at = Math.max(ctx.at, order.statusAt ?? ctx.at);
  const base: OrderState = { ...order, disputeId, disputeStatus };
  if (won) {
    if (order.status !== 'disputed') return result(order, base, []);
    const back = order.statusBeforeDispute ?? 'succeeded';
    return result(order, { ...base, status: back, statusAt: at }, [
      { type: 'audit', from: order.status, to: back, reason: `dispute ${disputeId} won` },
    ]);
  }
  if (!canTransition(order.status, 'charged_back')) return result(order, base, []);
  return result(order, { ...base, status: 'charged_back', statusAt: at }, [
    { type: 'audit', from: order.status, to: 'charged_back', reason: `dispute ${disputeId} lost` },
    { type: 'revoke', grant: ctx.grant, creditsRevoked: ctx.grant.kind === 'credits' ? ctx.grant.credits : 0, reason: 'chargeback' },
  ]);
}

function recordInvoice(order: OrderState, invoice: InvoiceFacts): Decision {
  return { outcome: 'recorded', next: order, effects: [{ type: 'record_invoice', invoice }], rejection: null };
}

/** A decision that also records the invoice behind it; with nothing else to do it is `recorded`. */
function withInvoice(d: Decision, invoice: InvoiceFacts): Decision {
  const effects: Effect[] = [...d.effects, { type: 'record_invoice', invoice }];
  return d.outcome === 'noop' || d.outcome === 'stale' || d.outcome === 'not_applicable'
    ? { ...d, outcome: 'recorded', effects }
    : { ...d, effects };
}

/** Commands both handlers treat alike: attempts, cancellation, refunds, disputes, invoices. */
function decideCommon(order: OrderState, command: PaymentCommand, ctx: DecideContext): Decision {
  switch (command.type) {
    case 'checkout_async_succeeded':
    case 'payment_created': {
      const ids = command.type === 'payment_created' ? { paymentIntentId: command.paymentIntentId } : command;
      return result(order, link(order, ids), []);
    }
    case 'checkout_expired':
      return move(order, link(order, command), 'canceled', ctx, 'checkout session expired');
    case 'payment_processing':
      return move(order, link(order, command), 'processing', ctx, 'payment processing');
    case 'payment_requires_action':
      return move(order, link(order, command), 'requires_action', ctx, 'customer action required');
    case 'payment_failed':
      return move(order, link(order, command), 'failed', ctx, `payment failed: ${command.reason}`, {
        failureReason: command.reason,
      });
    case 'payment_canceled':
      return move(order, link(order, command), 'canceled', ctx, `payment canceled: ${command.reason}`);
    case 'charge_refunded':
      return chargeRefunded(order, command.paymentIntentId, command.amountRefunded, ctx);
    case 'refund_changed':
      return refundChanged(order, command.refund, ctx);
    case 'dispute_opened':
      return disputeOpened(order, command.disputeId, ctx);
    case 'dispute_closed':
      return disputeClosed(order, command.disputeId, command.won, ctx);
    case 'invoice_recorded':
      return recordInvoice(order, command.invoice);
    case 'subscription_invoice_failed': {
      // Only the first invoice's failure concerns the order; a failed renewal is the subscription's (past_due).
      if (command.billingReason !== 'subscription_create') return recordInvoice(order, command.invoice);
      const d = move(order, order, 'failed', ctx, 'first subscription invoice payment failed', { failureReason: 'invoice_payment_failed' });
      return withInvoice(d, command.invoice);
    }
    case 'subscription_changed':
      // The subscription moves (see `decideSubscription`); the order that started it does not.
      return unchanged(order, 'noop');
    case 'checkout_completed':
    case 'payment_succeeded':
    case 'subscription_invoice_paid':
      throw new Error(`${command.type} is decided by the handler strategy`);
  }
}

/**
 * The new handler: Checkout completion only links the session (and marks an unpaid, async
 * payment `processing`); only `payment_succeeded` confirms.
 */
export function decideNew(order: OrderState, command: PaymentCommand, ctx: DecideContext): Decision {
  switch (command.type) {
    case 'checkout_completed': {
      const base = link(order, command);
      if (command.paymentStatus === 'unpaid') return move(order, base, 'processing', ctx, 'async payment under way');
      // Subscription mode: the first paid invoice confirms (a trial's is paid at zero).
      if (command.subscriptionId) return result(order, base, []);
      if (command.paymentStatus === 'no_payment_required') {
        return confirmPayment(order, {
          paymentIntentId: command.paymentIntentId,
          amount: command.amount,
          currency: command.currency,
          reason: 'checkout completed with no payment required',
        }, ctx);
      }
      return result(order, base, []);
    }
    case 'payment_succeeded':
      return confirmPayment(order, { ...command, reason: 'payment_intent.succeeded' }, ctx);
    case 'subscription_invoice_paid': {
      // The first paid invoice is a subscription's payment confirmation; renewals are only recorded.
      if (command.billingReason !== 'subscription_create') return recordInvoice(order, command.invoice);
      const d = confirmPayment(order, {
        paymentIntentId: null,
        amount: command.invoice.amountPaid,
        currency: command.invoice.currency,
        reason: 'invoice.paid (subscription_create)',
      }, ctx);
      return withInvoice(d, command.invoice);
    }
    default:
      return decideCommon(order, command, ctx);
  }
}

/**
 * The legacy handler, kept as the rollback path: it confirms on Checkout completion whatever
 * the session's `payment_status` (the behaviour being replaced), and only links on
 * `payment_succeeded`.
 */
export function decideLegacy(order: OrderState, command: PaymentCommand, ctx: DecideContext): Decision {
  switch (command.type) {
    case 'checkout_completed': {
      const linked = link(order, { checkoutSessionId: command.checkoutSessionId });
      const d = confirmPayment(linked, {
        paymentIntentId: command.paymentIntentId,
        amount: command.amount,
        currency: command.currency,
        reason: 'checkout.session.completed',
      }, ctx);
      return d.next === linked && linked !== order && linked.checkoutSessionId !== order.checkoutSessionId
        ? { ...d, outcome: 'applied' }
        : d;
    }
    case 'payment_succeeded':
      return result(order, link(order, command), []);
    case 'subscription_invoice_paid':
      return recordInvoice(order, command.invoice);
    default:
      return decideCommon(order, command, ctx);
  }
}

export const HANDLER_STRATEGIES: Readonly<Record<Handler, typeof decideNew>> = {
  new: decideNew,
  legacy: decideLegacy,
};

/**
 * Decide what a command does to an order under the given handler. An order under review takes
 * no automatic changes (an invoice is still recorded beside it).
 */
export function decideWith(handler: Handler, order: OrderState, command: PaymentCommand, ctx: DecideContext): Decision {
  if (order.status === 'needs_review') {
    const invoice = 'invoice' in command ? command.invoice : null;
    if (invoice) return recordInvoice(order, invoice);
    // A refund keeps its own record while the order waits for an admin.
    if (command.type === 'refund_changed') {
      return { outcome: 'under_review', next: order, effects: [{ type: 'record_refund', refund: command.refund, undoneAt: null }], rejection: null };
    }
    return unchanged(order, 'under_review');
  }
  return HANDLER_STRATEGIES[handler](order, command, ctx);
}

/** Decide what a command does to an order, with the handler the order was created under. */
export function decide(order: OrderState, command: PaymentCommand, ctx: DecideContext): Decision {
  return decideWith(order.handler, order, command, ctx);
}
