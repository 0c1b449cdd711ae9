/**
 * Stripe's invoices and subscriptions as payments-core's facts (`InvoiceFacts`,
 * `SubscriptionFacts`): the plan's price among several items, the newest billed lines, the money
 * behind an invoice. `mapStripeEvent` and the reconciler's snapshots both read them through here.
 */
import type { InvoiceFacts, OrderRef } from './payment-command.js';
import { asArray, asObj, idOf, int, metaOrderId, str, type Obj } from './stripe-fields.js';
import { isStripeSubscriptionStatus, type SubscriptionFacts } from './subscription-state.js';

/** The subscription lines of an invoice (a line's `parent` in current versions, `type: subscription` in older ones). */
function subscriptionLines(inv: Obj): Obj[] {
  const lines = asArray(asObj(inv.lines).data).map(asObj);
  const marked = lines.filter((l) =>
    asObj(l.parent).type === 'subscription_item_details' || l.type === 'subscription' || idOf(l.subscription) !== null);
  // Lines that do not say what they bill (trimmed payloads): all of them.
  return marked.length > 0 ? marked : lines;
}

/** A line's price: `pricing.price_details.price` in current versions, `price`/`plan` in older ones. */
const linePriceId = (l: Obj): string | null => idOf(asObj(asObj(l.pricing).price_details).price) ?? idOf(l.price) ?? idOf(l.plan);

/**
 * The lines that say what the invoice bills going forward: the latest-ending ones that charge
 * (not proration credits), in the invoice's order; several when it bills several items.
 */
function billingLines(inv: Obj): Obj[] {
  const lines = subscriptionLines(inv);
  const charging = lines.filter((l) => (int(l.amount) ?? 0) >= 0);
  const pool = charging.length > 0 ? charging : lines;
  const end = (l: Obj) => int(asObj(l.period).end) ?? 0;
  const latest = Math.max(...pool.map(end));
  return pool.filter((l) => end(l) === latest);
}

/** The money behind an invoice in older versions (`payment_intent`, `charge`) or an expanded `payments` list. */
function invoiceMoney(inv: Obj): { paymentIntentId: string | null; chargeId: string | null } {
  const paid = asArray(asObj(inv.payments).data).map(asObj).find((p) => p.status === 'paid');
  const payment = asObj(paid?.payment);
  return {
    paymentIntentId: idOf(inv.payment_intent) ?? (payment.type === 'payment_intent' ? idOf(payment.payment_intent) : null),
    chargeId: idOf(inv.charge) ?? (payment.type === 'charge' ? idOf(payment.charge) : null),
  };
}

/** What an invoice object says, or null when it lacks what every invoice has (id, currency, created). */
/** The customer balance an invoice used (positive: a credit paid part of it), once both balances are set. */
function balanceApplied(inv: Record<string, unknown>): number {
  const start = int(inv.starting_balance);
  const end = int(inv.ending_balance);
  return start === null || end === null ? 0 : end - start;
}

export function invoiceFactsOf(object: unknown): InvoiceFacts | null {
  const inv = asObj(object);
  const invoiceId = str(inv.id);
  const currency = str(inv.currency);
  // `date` before API version 2019-03-14, `created` since.
  const createdAt = int(inv.created) ?? int(inv.date);
  if (!invoiceId || !currency || createdAt === null || inv.object !== undefined && inv.object !== 'invoice') return null;
  const transitions = asObj(inv.status_transitions);
  const parent = asObj(inv.parent);
  const subscriptionId =
    idOf(inv.subscription) ?? idOf(asObj(parent.subscription_details).subscription) ?? null;
  const newest = billingLines(inv);
  const line = newest[0];
  const period = asObj(line?.period);
  return {
    invoiceId,
    number: str(inv.number),
    status: str(inv.status),
    hostedInvoiceUrl: str(inv.hosted_invoice_url),
    invoicePdf: str(inv.invoice_pdf),
    amountDue: int(inv.amount_due) ?? 0,
    amountPaid: int(inv.amount_paid) ?? 0,
    ...(balanceApplied(inv) !== 0 ? { balanceApplied: balanceApplied(inv) } : {}),
    currency,
    subscriptionId,
    billingReason: str(inv.billing_reason),
    periodStart: int(period.start) ?? (subscriptionId ? int(inv.period_start) : null),
    periodEnd: int(period.end) ?? (subscriptionId ? int(inv.period_end) : null),
    priceId: line ? linePriceId(line) : null,
    ...several(pricesOf(newest.map(linePriceId))),
    ...invoiceMoney(inv),
    attemptCount: int(inv.attempt_count) ?? 0,
    createdAt,
    finalizedAt: int(transitions.finalized_at),
    paidAt: int(transitions.paid_at),
  };
}

/** Where a subscription's metadata shows up on its invoices, newest API first. */
function invoiceSubscriptionMeta(inv: Obj): Obj {
  const fromParent = asObj(asObj(asObj(inv.parent).subscription_details).metadata);
  if (Object.keys(fromParent).length > 0) return fromParent;
  const legacy = asObj(asObj(inv.subscription_details).metadata);
  if (Object.keys(legacy).length > 0) return legacy;
  const firstLine = asObj(asArray(asObj(inv.lines).data)[0]);
  return asObj(firstLine.metadata);
}

export function invoiceRef(inv: Obj): OrderRef {
  return {
    orderId: metaOrderId(inv) ?? str(invoiceSubscriptionMeta(inv).orderId),
    checkoutSessionId: null,
    paymentIntentId: null,
  };
}

/** The Settle order an invoice belongs to (its own or its subscription's `metadata.orderId`), or null. */
export function orderIdOfInvoice(invoice: unknown): string | null {
  return invoiceRef(asObj(invoice)).orderId;
}

/** The distinct prices named, in order. */
function pricesOf(ids: (string | null)[]): string[] {
  return [...new Set(ids.filter((id): id is string => id !== null))];
}

/** `priceIds`, said only when there are several (one is `priceId`). */
function several(priceIds: string[]): { priceIds?: string[] } {
  return priceIds.length > 1 ? { priceIds } : {};
}

/** What a subscription object says, or null when it has no id or an unknown status. */
export function subscriptionFactsOf(object: unknown, deleted = false): SubscriptionFacts | null {
  const sub = asObj(object);
  const subscriptionId = str(sub.id);
  const status = deleted && sub.status === undefined ? 'canceled' : sub.status;
  if (!subscriptionId || !isStripeSubscriptionStatus(status) || sub.object !== undefined && sub.object !== 'subscription') return null;
  const items = asArray(asObj(sub.items).data).map(asObj);
  const firstItem = asObj(items[0]);
  const meta = asObj(sub.metadata);
  return {
    subscriptionId,
    customerId: idOf(sub.customer),
    stripeStatus: status,
    cancelAtPeriodEnd: sub.cancel_at_period_end === true || int(sub.cancel_at) !== null,
    // Current API versions keep the period on the items; older ones on the subscription.
    currentPeriodEnd: int(firstItem.current_period_end) ?? int(sub.current_period_end),
    cancelAt: int(sub.cancel_at),
    priceId: idOf(firstItem.price) ?? idOf(firstItem.plan),
    ...several(pricesOf(items.map((i) => idOf(i.price) ?? idOf(i.plan)))),
    orderId: str(meta.orderId),
    userId: str(meta.userId),
    trialEnd: int(sub.trial_end),
    latestInvoiceId: idOf(sub.latest_invoice),
  };
}

/**
 * The invoice an older API version names on a PaymentIntent or charge (`invoice`); current
 * versions name it only through `invoice_payment` objects.
 */
export function invoiceIdOfPayment(object: unknown): string | null {
  return idOf(asObj(object).invoice);
}
