import type { PaymentCommand } from './payment-command.js';
import { invoiceFactsOf, subscriptionFactsOf } from './stripe-billing.mapper.js';
import type { TimedCommand } from './stripe-state.mapper.js';

/**
 * Turn Stripe's current view of a subscription and its latest invoice (as the API returns them)
 * into the commands webhooks would have carried, so the reconciler changes a stale subscription
 * through the same use case as events do. The invoice comes first (a paid renewal is recorded as
 * a payment before the status that follows it); `now` stands in for the time of both, since the
 * reconciler's reading is the newest fact there is. Null when either object is malformed.
 */
export function commandsFromSubscriptionSnapshot(subscription: unknown, latestInvoice: unknown | null, now: number): TimedCommand[] | null {
  const facts = subscriptionFactsOf(subscription);
  if (!facts) return null;
  const out: TimedCommand[] = [];
  if (latestInvoice) {
    const invoice = invoiceFactsOf(latestInvoice);
    if (!invoice) return null;
    const reason = invoice.billingReason;
    const subscriptionId = invoice.subscriptionId ?? facts.subscriptionId;
    const withSubscription = { ...invoice, subscriptionId };
    let command: PaymentCommand;
    if (invoice.status === 'paid' && reason?.startsWith('subscription')) {
      command = { type: 'subscription_invoice_paid', subscriptionId, billingReason: reason, periodEnd: invoice.periodEnd, invoice: withSubscription };
    } else if (invoice.status === 'open' && invoice.attemptCount > 0 && reason?.startsWith('subscription')) {
      command = { type: 'subscription_invoice_failed', subscriptionId, billingReason: reason, periodEnd: invoice.periodEnd, invoice: withSubscription };
    } else {
      command = { type: 'invoice_recorded', invoice: withSubscription };
    }
    out.push({ command, at: now });
  }
  out.push({ command: { type: 'subscription_changed', subscription: facts }, at: now });
  return out;
}
