import type { OrderState, OrderStatus } from './order-state.js';
import type { InvoiceFacts, RefundFacts } from './payment-command.js';
import type { Rejection } from './confirmation.js';

/** What a paid order gives its buyer, from the product catalogue. */
export type GrantSpec =
  | { kind: 'credits'; credits: number; partialRefund: 'proportional' | 'none' }
  | { kind: 'plan'; plan: string };

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
   * Bring the revoked part of the order's grant back down to `creditsRevoked` (a refund failed,
   * an admin says the order is paid after all, or its payment confirms after an admin took the
   * grant back): the difference is credited again; a plan taken
   * back by a full refund is given back.
   */
  | { type: 'restore'; grant: GrantSpec; creditsRevoked: number; reason: 'refund_failed' | 'override' | 'payment_confirmed' }
  | { type: 'record_invoice'; invoice: InvoiceFacts }
  /** Keep the refund's own record (amount, status, reason, times) up to date. */
  | { type: 'record_refund'; refund: RefundFacts; undoneAt: number | null }
  /** A second successful payment for an order already paid: the customer was charged twice. */
  | { type: 'record_duplicate_payment'; paymentIntentId: string; amount: number; currency: string; at: number }
  /** Stripe's refunded total of a duplicate payment (its refund went through, not the order's). */
  | { type: 'record_duplicate_refund'; paymentIntentId: string; amountRefunded: number }
  /** A refund of a duplicate payment failed or was canceled: its amount is owed to the customer again. */
  /** `floor`: what that payment's refunds still in force add up to; its refunded total never goes below it. */
  | { type: 'undo_duplicate_refund'; paymentIntentId: string; amount: number; floor: number };

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
