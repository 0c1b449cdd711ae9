import type { RefundStatus } from './payment-command.js';
/**
 * The order (payment) state machine: statuses, the transition table and the
 * ranks that make late events harmless. Pure data; no I/O.
 */

export const ORDER_STATUSES = [
  'pending',
  'processing',
  'requires_action',
  'failed',
  'succeeded',
  'canceled',
  'partially_refunded',
  'refunded',
  'disputed',
  'charged_back',
  'needs_review',
] as const;

export type OrderStatus = (typeof ORDER_STATUSES)[number];

export type Handler = 'legacy' | 'new';
export const HANDLERS = ['legacy', 'new'] as const satisfies readonly Handler[];

/**
 * Every status must appear (the `Record` makes the table total); terminal states map to `[]`.
 * `needs_review` is left only by an admin override, which may choose any status and is
 * checked separately (see `canOverride`).
 */
export const ORDER_TRANSITIONS: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
  pending: ['processing', 'requires_action', 'failed', 'succeeded', 'canceled', 'needs_review'],
  processing: ['requires_action', 'failed', 'succeeded', 'canceled', 'needs_review'],
  requires_action: ['processing', 'failed', 'succeeded', 'canceled', 'needs_review'],
  failed: ['processing', 'requires_action', 'succeeded', 'canceled', 'needs_review'],
  // `charged_back` directly: a lost dispute whose opening event was never seen. `needs_review`:
  // Stripe reports more refunded than was paid.
  succeeded: ['partially_refunded', 'refunded', 'disputed', 'charged_back', 'needs_review'],
  // Money arriving for a canceled order cannot be granted nor ignored: a human decides.
  canceled: ['needs_review'],
  // Back to `succeeded` (or less refunded) only when a refund fails or is canceled.
  partially_refunded: ['succeeded', 'refunded', 'disputed', 'charged_back', 'needs_review'],
  disputed: ['succeeded', 'partially_refunded', 'charged_back', 'refunded', 'needs_review'],
  refunded: ['succeeded', 'partially_refunded', 'needs_review'],
  charged_back: [],
  needs_review: [],
};

export const TERMINAL_STATUSES: readonly OrderStatus[] = ORDER_STATUSES.filter(
  (s) => ORDER_TRANSITIONS[s].length === 0 && s !== 'needs_review',
);

/** Statuses in which the customer has paid (money is with the merchant or was). */
export const PAID_STATUSES: readonly OrderStatus[] = [
  'succeeded',
  'partially_refunded',
  'refunded',
  'disputed',
  'charged_back',
];

/**
 * Lifecycle progress. An event may move an order to a status of lower or equal rank only when
 * it is strictly newer (Stripe `created`) than the event that set the current status; a higher
 * rank wins a tie. Stripe timestamps are whole seconds, so ties are common.
 */
export const STATUS_RANK: Readonly<Record<OrderStatus, number>> = {
  pending: 0,
  // Attempt-level states share a band; within it the usual order breaks same-second ties.
  requires_action: 1,
  processing: 1.1,
  failed: 1.2,
  canceled: 2,
  succeeded: 3,
  partially_refunded: 4,
  disputed: 4,
  refunded: 5,
  charged_back: 5,
  needs_review: 6,
};

export function isOrderStatus(value: unknown): value is OrderStatus {
  return typeof value === 'string' && (ORDER_STATUSES as readonly string[]).includes(value);
}

export function canTransition(from: OrderStatus, to: OrderStatus): boolean {
  return ORDER_TRANSITIONS[from].includes(to);
}

export function isTerminal(status: OrderStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

export function isPaid(status: OrderStatus): boolean {
  return PAID_STATUSES.includes(status);
}

/** An admin may move any order anywhere except to the status it already has. */
export function canOverride(from: OrderStatus, to: OrderStatus): boolean {
  return from !== to;
}

/**
 * `prevented`: stopped before it became a chargeback (Stripe's dispute prevention, e.g. Visa RDR,
 * since 2025-08-27.basil); no chargeback, and any money the customer got back comes as a refund.
 */
export type DisputeStatus = 'open' | 'won' | 'lost' | 'prevented';
/** How a dispute ended. */
export type DisputeOutcome = Exclude<DisputeStatus, 'open'>;

/**
 * A refund of the order's own payment as Settle knows it. `undoneAt` is the Stripe time its
 * failure or cancellation was applied: a charge's refunded total from before then still counts it.
 */
export type RefundRecord = { refundId: string; amount: number; status: RefundStatus; undoneAt: number | null };

/** A refund that did not move money: the merchant kept it. */
export const isUndoneRefundStatus = (status: RefundStatus): boolean => status === 'failed' || status === 'canceled';

/**
 * A charge's refunded total as Stripe reported it at time `at`, less the refunds undone (failed,
 * canceled) at or after `at`: they were still counted in it then; Stripe's later totals leave them out.
 */
export function chargeRefundedTotal(refunds: readonly RefundRecord[], amountRefunded: number, at: number): number {
  const undoneSince = refunds.filter((r) => r.undoneAt !== null && r.undoneAt >= at).reduce((sum, r) => sum + r.amount, 0);
  return Math.max(0, amountRefunded - undoneSince);
}

/** The sum of the refunds that still move money. */
export function liveRefundTotal(refunds: readonly RefundRecord[]): number {
  return refunds.filter((r) => !isUndoneRefundStatus(r.status)).reduce((sum, r) => sum + r.amount, 0);
}

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
  /** Refunds of its duplicate payments seen so far: they never move the order, only their payment's refunded total. */
  otherRefunds?: readonly OtherRefundRecord[];
};

/** A refund of another payment than the order's own (a duplicate payment). */
export type OtherRefundRecord = RefundRecord & { paymentIntentId: string };
