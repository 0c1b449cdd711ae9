import type { OrderState, OrderStatus } from './order-state.js';
import type { InvoiceFacts } from './payment-command.js';
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
  | { type: 'record_invoice'; invoice: InvoiceFacts };

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
