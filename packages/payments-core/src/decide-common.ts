import { STATUS_RANK, canTransition, chargeRefundedTotal, isPaid, isUndoneRefundStatus, liveRefundTotal, type DisputeOutcome, type DisputeStatus, type OrderState, type OrderStatus, type RefundRecord } from './order-state.js';
import type { InvoiceFacts, PaymentCommand, RefundFacts } from './payment-command.js';
import { validateConfirmation, type PaymentFacts, type Rejection } from './confirmation.js';
import type { DecideContext, Decision, Effect, GrantSpec, Outcome } from './decision.js';

/*
 * The rules both handler strategies share: ordering of late events, the validation chain that
 * confirms a payment, refunds, disputes and invoices. A strategy file decides only what differs.
 */

export function result(order: OrderState, next: OrderState, effects: Effect[], fallback: Outcome = 'noop'): Decision {
  const changed = (Object.keys(next) as (keyof OrderState)[]).some((k) => next[k] !== order[k]);
  return { outcome: changed || effects.length > 0 ? 'applied' : fallback, next, effects, rejection: null };
}

export function unchanged(order: OrderState, outcome: Outcome, rejection: Rejection | null = null): Decision {
  return { outcome, next: order, effects: [], rejection };
}

/** Fill in the Stripe ids an order does not know yet; never overwrite a known one. */
export function link(order: OrderState, ids: { checkoutSessionId?: string | null; paymentIntentId?: string | null }): OrderState {
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

export function move(
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
  // The PaymentIntent that paid is the order's from now on (another one succeeding is the duplicate).
  const base = { ...order, paymentIntentId: payment.paymentIntentId ?? order.paymentIntentId };
  const d = move(order, base, 'succeeded', ctx, payment.reason, { paidAt: ctx.at, failureReason: null });
  if (d.outcome !== 'applied' || d.next.status !== 'succeeded') return d;
  // The grant is given once per order: one an admin took back (an override to `failed`) is given
  // back whole, or the order would be paid with nothing granted.
  let effects: Effect[] = [...d.effects, { type: 'grant', grant: ctx.grant }, { type: 'restore', grant: ctx.grant, creditsRevoked: 0, reason: 'payment_confirmed' }];
  let next = d.next;
  // Refunds and disputes seen before this payment were recorded on the order: settle them now,
  // after the grant, so what was taken back is revoked.
  if (next.amountRefunded > 0) {
    const settled = next.amountRefunded > next.amount
      ? parkForReview(next, next, { code: 'REFUND_EXCEEDS_PAYMENT', message: `refunded ${next.amountRefunded} ${next.currency}, more than the ${next.amount} paid` }, ctx)
      : settleRefund(next, next, ctx);
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

/** Credits a refunded total takes back of a grant, by the product's partial-refund policy (a full refund takes all). */
export function creditsToRevoke(grant: GrantSpec, order: OrderState, amountRefunded: number): number {
  if (grant.kind !== 'credits') return 0;
  if (amountRefunded >= order.amount) return grant.credits;
  if (grant.partialRefund === 'none' || order.amount <= 0) return 0;
  return Math.floor((grant.credits * amountRefunded) / order.amount);
}

/** Another payment than the order's own (a duplicate): its refunds and disputes never move the order. */
function isOtherPayment(order: OrderState, paymentIntentId: string): boolean {
  return order.paymentIntentId !== null && order.paymentIntentId !== paymentIntentId;
}

function chargeRefunded(order: OrderState, paymentIntentId: string, amountRefunded: number, ctx: DecideContext): Decision {
  if (isOtherPayment(order, paymentIntentId)) {
    // As for the order's own payment: a total reported before one of its refunds failed counts it no more.
    const theirs = (order.otherRefunds ?? []).filter((r) => r.paymentIntentId === paymentIntentId);
    const total = chargeRefundedTotal(theirs, amountRefunded, ctx.at);
    return { outcome: 'recorded', next: order, effects: [{ type: 'record_duplicate_refund', paymentIntentId, amountRefunded: total }], rejection: null };
  }
  return refund(order, order, chargeRefundedTotal(order.refunds, amountRefunded, ctx.at), ctx);
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
  if (isOtherPayment(order, facts.paymentIntentId)) return otherRefundChanged(order, facts, ctx);
  // Failed and canceled are final at Stripe: a pending or succeeded report delivered after one is older.
  if (prior && isUndoneRefundStatus(prior.status) && !isUndoneRefundStatus(facts.status)) return unchanged(order, 'stale');
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
    // Stripe never lets live refunds add up to more than the charge: when the ones heard of do,
    // one of them has failed and its report is still on the way (it undoes nothing then).
    const live = liveRefundTotal(base.refunds);
    const fits = base.refunds.every((r) => r.amount <= order.amount);
    return recorded(refund(order, base, fits ? Math.min(live, order.amount) : live, ctx));
  }
  if (alreadyUndone) return recorded(result(order, base, [], 'noop'));
  // Its amount comes off the total, but never below what the refunds still live add up to (a
  // later refund already took its place while its failure was on the way).
  const total = Math.max(0, order.amountRefunded - facts.amount, Math.min(order.amount, liveRefundTotal(base.refunds)));
  if (total === order.amountRefunded) return recorded(result(order, base, [], 'noop'));
  const reason = `refund ${facts.refundId} ${facts.status}${facts.failureReason ? `: ${facts.failureReason}` : ''}`;
  return recorded(undoRefund(order, { ...base, amountRefunded: total }, ctx, reason));
}

/**
 * A refund of a duplicate payment was created or moved: recorded, and the order left alone. One
 * that fails or is canceled is undone once, also when its failure is the first report of it (its
 * creation still on the way): its amount comes off its payment's refunded total, never below what
 * that payment's refunds still in force add up to (the customer is owed it again, and it can be
 * refunded again).
 */
function otherRefundChanged(order: OrderState, facts: RefundFacts, ctx: DecideContext): Decision {
  const others = order.otherRefunds ?? [];
  const prior = others.find((r) => r.refundId === facts.refundId);
  if (prior && prior.status === facts.status && prior.amount === facts.amount) return unchanged(order, 'noop');
  // Failed and canceled are final at Stripe: a pending or succeeded report delivered after one is older.
  if (prior && isUndoneRefundStatus(prior.status) && !isUndoneRefundStatus(facts.status)) return unchanged(order, 'stale');
  const undo = isUndoneRefundStatus(facts.status);
  const undoneAt = undo ? (prior?.undoneAt ?? ctx.at) : null;
  const firstUndo = undo && (prior === undefined || prior.undoneAt === null);
  const record = { refundId: facts.refundId, paymentIntentId: facts.paymentIntentId, amount: facts.amount, status: facts.status, undoneAt };
  const nextOthers = [...others.filter((r) => r.refundId !== facts.refundId), record];
  const effects: Effect[] = [{ type: 'record_refund', refund: facts, undoneAt }];
  if (firstUndo) {
    const floor = liveRefundTotal(nextOthers.filter((r) => r.paymentIntentId === facts.paymentIntentId));
    effects.push({ type: 'undo_duplicate_refund', paymentIntentId: facts.paymentIntentId, amount: facts.amount, floor });
  }
  return { outcome: 'recorded', next: { ...order, otherRefunds: nextOthers }, effects, rejection: null };
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

function disputeClosed(order: OrderState, disputeId: string, outcome: DisputeOutcome, ctx: DecideContext): Decision {
  const disputeStatus: DisputeStatus = outcome;
  if (order.disputeId === disputeId && order.disputeStatus !== 'open') return unchanged(order, 'noop');
  if (!isPaid(order.status)) {
    return order.disputeId === null || order.disputeId === disputeId
      ? result(order, { ...order, disputeId, disputeStatus }, [])
      : unchanged(order, 'not_applicable');
  }
  const at = Math.max(ctx.at, order.statusAt ?? ctx.at);
  const base: OrderState = { ...order, disputeId, disputeStatus };
  // Won, or prevented before it became a chargeback: the payment stands (a refund that came with a
  // prevention is its own event).
  if (outcome !== 'lost') {
    if (order.status !== 'disputed') return result(order, base, []);
    const back = order.statusBeforeDispute ?? 'succeeded';
    return result(order, { ...base, status: back, statusAt: at }, [
      { type: 'audit', from: order.status, to: back, reason: `dispute ${disputeId} ${outcome}` },
    ]);
  }
  if (!canTransition(order.status, 'charged_back')) return result(order, base, []);
  return result(order, { ...base, status: 'charged_back', statusAt: at }, [
    { type: 'audit', from: order.status, to: 'charged_back', reason: `dispute ${disputeId} lost` },
    { type: 'revoke', grant: ctx.grant, creditsRevoked: ctx.grant.kind === 'credits' ? ctx.grant.credits : 0, reason: 'chargeback' },
  ]);
}

export function recordInvoice(order: OrderState, invoice: InvoiceFacts): Decision {
  return { outcome: 'recorded', next: order, effects: [{ type: 'record_invoice', invoice }], rejection: null };
}

/** A decision that also records the invoice behind it; with nothing else to do it is `recorded`. */
export function withInvoice(d: Decision, invoice: InvoiceFacts): Decision {
  const effects: Effect[] = [...d.effects, { type: 'record_invoice', invoice }];
  return d.outcome === 'noop' || d.outcome === 'stale' || d.outcome === 'not_applicable'
    ? { ...d, outcome: 'recorded', effects }
    : { ...d, effects };
}

/** Commands both handlers treat alike: attempts, cancellation, refunds, disputes, invoices. */
export function decideCommon(order: OrderState, command: PaymentCommand, ctx: DecideContext): Decision {
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
    case 'dispute_closed':
      // A dispute of a duplicate payment takes that payment's money back, not the order's: the
      // order stays paid by its own payment (its refunds are handled the same way).
      if (isOtherPayment(order, command.paymentIntentId)) return unchanged(order, 'not_applicable');
      return command.type === 'dispute_opened' ? disputeOpened(order, command.disputeId, ctx) : disputeClosed(order, command.disputeId, command.outcome, ctx);
    case 'invoice_recorded':
      return recordInvoice(order, command.invoice);
    case 'subscription_invoice_failed': {
      // Only the first invoice's failure concerns the order; a failed renewal is the subscription's (past_due).
      if (command.billingReason !== 'subscription_create') return recordInvoice(order, command.invoice);
      const d = move(order, order, 'failed', ctx, 'first subscription invoice payment failed', { failureReason: 'invoice_payment_failed' });
      return withInvoice(d, command.invoice);
    }
    case 'subscription_changed':
    case 'invoice_payment_linked':
      // The subscription and its payments move (see `decideSubscription`, `mergeSubscriptionPayment`); the order that started it does not.
      return unchanged(order, 'noop');
    case 'checkout_completed':
    case 'payment_succeeded':
    case 'subscription_invoice_paid':
      throw new Error(`${command.type} is decided by the handler strategy`);
  }
}
