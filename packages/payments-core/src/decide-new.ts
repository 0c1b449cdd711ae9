import type { OrderState } from './order-state.js';
import type { InvoiceFacts, PaymentCommand } from './payment-command.js';
import type { PaymentFacts } from './confirmation.js';
import type { DecideContext, Decision } from './decision.js';
import { nothingPaidOn } from './subscription-state.js';
import { confirmPayment, decideCommon, link, move, recordInvoice, result, withInvoice } from './decide-common.js';

/**
 * What a subscription's first paid invoice says was paid. An invoice with nothing due and no
 * money behind it (a trial, a 100% discount) is Stripe starting the subscription without a
 * payment: the amount check is waived, the currency check stands, and it is said so in the audit.
 */
export function firstInvoicePayment(invoice: InvoiceFacts): PaymentFacts {
  // Paid is what the card paid and what the customer's credit balance paid (Settle keeps one
  // Stripe customer per user: a downgrade's credit pays part of the next plan's first invoice).
  const fromBalance = invoice.balanceApplied ?? 0;
  const nothingDue = nothingPaidOn(invoice);
  return {
    paymentIntentId: invoice.paymentIntentId,
    amount: invoice.amountPaid + fromBalance,
    currency: invoice.currency,
    reason: nothingDue ? 'invoice.paid (subscription_create, nothing due: trial or full discount)' : 'invoice.paid (subscription_create)',
    ...(nothingDue ? { amountWaived: 'nothing due on the first invoice' } : {}),
  };
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
      const d = confirmPayment(order, firstInvoicePayment(command.invoice), ctx);
      return withInvoice(d, command.invoice);
    }
    default:
      return decideCommon(order, command, ctx);
  }
}
