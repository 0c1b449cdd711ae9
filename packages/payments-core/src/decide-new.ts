import type { OrderState } from './order-state.js';
import type { PaymentCommand } from './payment-command.js';
import type { DecideContext, Decision } from './decision.js';
import { confirmPayment, decideCommon, link, move, recordInvoice, result, withInvoice } from './decide-common.js';

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
