import { isMoneyBackCommand, type PaymentCommand } from './payment-command.js';
import { invoicePaymentLinkOf } from './stripe-event.mapper.js';
import { invoiceFactsOf, subscriptionFactsOf } from './stripe-billing.mapper.js';
import { commandsFromStripeSnapshot, type StripeSnapshot, type TimedCommand } from './stripe-state.mapper.js';

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

/**
 * One paid invoice of a subscription as the reconciler read it: the invoice, its
 * `invoice_payment`s (since API 2025-03-31 the only link to the money), and the payment behind
 * it read as an order's is (`StripeSnapshot`: the PaymentIntent, its refunds and disputes).
 */
export type InvoiceMoneyReading = { invoice: unknown; invoicePayments: readonly unknown[]; payment: StripeSnapshot | null };

/**
 * What went back on a subscription's paid invoices, as the events that were lost would have
 * said: each invoice is recorded (only recorded: the opening invoice's confirmation and the
 * latest invoice's effect on the subscription are `commandsFromSubscriptionSnapshot`'s), linked
 * to its money, then its refunds and disputes follow (`commandsFromStripeSnapshot`, the same
 * reading as a one-time order's). Oldest invoice first. Malformed invoices are skipped: one
 * unreadable invoice must not hide another's chargeback.
 */
export function commandsFromInvoiceMoney(subscriptionId: string, readings: readonly InvoiceMoneyReading[], now: number): TimedCommand[] {
  const read = readings.flatMap((r) => {
    const invoice = invoiceFactsOf(r.invoice);
    return invoice ? [{ ...r, invoice }] : [];
  });
  const out: TimedCommand[] = [];
  for (const r of read.sort((a, b) => a.invoice.createdAt - b.invoice.createdAt)) {
    const invoice = { ...r.invoice, subscriptionId: r.invoice.subscriptionId ?? subscriptionId };
    out.push({ command: { type: 'invoice_recorded', invoice }, at: now });
    for (const ip of r.invoicePayments) {
      const link = invoicePaymentLinkOf(ip);
      if (link?.paid && link.invoiceId === invoice.invoiceId) out.push({ command: link, at: now });
    }
    if (r.payment) out.push(...commandsFromStripeSnapshot(r.payment, now).filter((c) => isMoneyBackCommand(c.command)));
  }
  return out;
}
