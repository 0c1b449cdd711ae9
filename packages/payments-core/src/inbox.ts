import type { OrderRef, PaymentCommand, PaymentCommandType } from './payment-command.js';

/**
 * Where a stored Stripe event is in its processing. `ignored`: about a Stripe object Settle did
 * not create (settled at once, never retried); `unmatched`: names a Settle order that never appeared.
 */
export const INBOX_STATES = ['pending', 'processed', 'failed', 'dead', 'unmatched', 'ignored'] as const;
export type InboxState = (typeof INBOX_STATES)[number];

/** Who created the PaymentIntent (or, for an invoice payment, the invoice) an event is about, as far as Settle can tell. */
export type PaymentIntentOwner = 'settle' | 'foreign' | 'unknown';

/** Commands about a charge-level object (refund, dispute): they name only a PaymentIntent. */
const CHARGE_LEVEL_COMMANDS: readonly PaymentCommandType[] = ['charge_refunded', 'refund_changed', 'dispute_opened', 'dispute_closed'];

export const isChargeLevelCommand = (command: PaymentCommand): boolean => CHARGE_LEVEL_COMMANDS.includes(command.type);

/**
 * What to do with an event whose order was not found. An event that names a Settle order (its
 * `metadata.orderId`) may have beaten the order's own transaction: `wait` (retried, then parked as
 * `unmatched`). Settle puts that id on every Checkout Session, PaymentIntent, subscription and
 * invoice it creates, so one without it is someone else's: `ignore`, at once. Refunds and disputes
 * carry only a PaymentIntent: they are ignored only when Stripe says that PaymentIntent is not
 * Settle's; when nobody can tell, they wait, so a refund of Settle's money is never dropped.
 */
export function unmatchedDisposition(ref: OrderRef, command: PaymentCommand, owner: PaymentIntentOwner): 'wait' | 'ignore' {
  if (ref.orderId) return 'wait';
  // An invoice payment names only an invoice and its PaymentIntent and often arrives before the
  // invoice it links; `owner` is then the invoice's owner. Dropping Settle's would lose the link
  // that ties a plan's refunds and disputes to its subscription: only a foreign one is ignored.
  if (command.type === 'invoice_payment_linked' || isChargeLevelCommand(command)) return owner === 'foreign' ? 'ignore' : 'wait';
  return 'ignore';
}

export type ReplayPlan =
  /** Put it back in the queue with a fresh retry schedule (its error history is kept). */
  | 'requeue'
  /** Already waiting to be processed; nothing to do. */
  | 'already_queued';

/**
 * Replay is always allowed and always safe: processing is idempotent (a processed event decides
 * `noop`, grants rest on a unique constraint), so replaying a processed event changes nothing.
 */
export function planReplay(state: InboxState): ReplayPlan {
  return state === 'pending' ? 'already_queued' : 'requeue';
}
