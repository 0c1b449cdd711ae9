import type { Handler, OrderState } from './order-state.js';
import type { PaymentCommand } from './payment-command.js';
import type { DecideContext, Decision, Effect } from './decision.js';
import { recordInvoice, unchanged } from './decide-common.js';
import { decideLegacy } from './decide-legacy.js';
import { decideNew } from './decide-new.js';

/** A handler strategy: how one handler decides what a command does to an order. */
export type HandlerStrategy = (order: OrderState, command: PaymentCommand, ctx: DecideContext) => Decision;

/** Effects that only keep what Stripe reported (no status, grant or credit moves). */
const RECORDS_ONLY: readonly Effect['type'][] = ['record_refund', 'record_duplicate_refund', 'undo_duplicate_refund'];

export const HANDLER_STRATEGIES: Readonly<Record<Handler, HandlerStrategy>> = {
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
    // Money Stripe gave back while the order waits for an admin is kept on it (its refunds and
    // refunded total, as for an order not paid yet), so the admin's decision can count it: the
    // status and the grant stay as they are.
    if (command.type === 'refund_changed' || command.type === 'charge_refunded') {
      const d = HANDLER_STRATEGIES[handler](order, command, ctx);
      const bookkeeping = d.next.status === 'needs_review' && d.effects.every((e) => RECORDS_ONLY.includes(e.type));
      if (bookkeeping) return { outcome: 'under_review', next: d.next, effects: d.effects, rejection: null };
      if (command.type === 'refund_changed') {
        return { outcome: 'under_review', next: order, effects: [{ type: 'record_refund', refund: command.refund, undoneAt: null }], rejection: null };
      }
    }
    return unchanged(order, 'under_review');
  }
  return HANDLER_STRATEGIES[handler](order, command, ctx);
}

/** Decide what a command does to an order, with the handler the order was created under. */
export function decide(order: OrderState, command: PaymentCommand, ctx: DecideContext): Decision {
  return decideWith(order.handler, order, command, ctx);
}
