import { isPaid, type OrderState } from './order-state.js';
import type { PaymentCommand } from './payment-command.js';
import type { DecideContext, Decision } from './decision.js';
import { confirmPayment, decideCommon, link, recordInvoice, result } from './decide-common.js';

/*
 * Retiring the legacy handler is deleting this file and its entry in `HANDLER_STRATEGIES`
 * (decide.ts), once no order is left under it.
 */

/**
 * The legacy handler, kept as the rollback path: it confirms on Checkout completion whatever
 * the session's `payment_status` (the behaviour being replaced), and only links on
 * `payment_succeeded`. A plan's Checkout with nothing due (a trial) confirms with the amount
 * check waived, the currency check kept.
 */
export function decideLegacy(order: OrderState, command: PaymentCommand, ctx: DecideContext): Decision {
  switch (command.type) {
    case 'checkout_completed': {
      const linked = link(order, { checkoutSessionId: command.checkoutSessionId });
      // A plan's Checkout with nothing to pay (a trial, a full discount): Stripe started the
      // subscription without money, as the new handler's nothing-due first invoice says.
      const nothingDue = command.subscriptionId !== undefined && command.paymentStatus === 'no_payment_required' && command.amount === 0;
      const d = confirmPayment(linked, {
        paymentIntentId: command.paymentIntentId,
        amount: command.amount,
        currency: command.currency,
        reason: nothingDue ? 'checkout.session.completed (plan, nothing due: trial or full discount)' : 'checkout.session.completed',
        ...(nothingDue ? { amountWaived: 'nothing due at checkout' } : {}),
      }, ctx);
      return d.next === linked && linked !== order && linked.checkoutSessionId !== order.checkoutSessionId
        ? { ...d, outcome: 'applied' }
        : d;
    }
    case 'payment_succeeded':
      // Another payment for an order already paid is the customer charged twice, whichever handler
      // confirmed it: recorded beside the order for an admin to refund (the confirmation checks say so).
      if (isPaid(order.status) && order.paymentIntentId !== null && order.paymentIntentId !== command.paymentIntentId) {
        return confirmPayment(order, { ...command, reason: 'payment_intent.succeeded' }, ctx);
      }
      return result(order, link(order, command), []);
    case 'subscription_invoice_paid':
      return recordInvoice(order, command.invoice);
    default:
      return decideCommon(order, command, ctx);
  }
}
