import { findOrder, findOrderIdByStripeObject, isKnownPaymentIntent, isSettleCustomer, type Trx } from '@settle/db';
import {
  checkoutEmailOf,
  idOf,
  invoiceIdOfPayment,
  isForeignPaymentIntent,
  isForeignSubscriptionEvent,
  isMoneyBackCommand,
  mapStripeEvent,
  subscriptionRefOf,
  type OrderRef,
  type PaymentCommand,
  type StripeEventLike,
  type SubscriptionRef,
} from '@settle/payments-core';
import type { Logger } from 'pino';
import type Stripe from 'stripe';
import { PermanentError } from '../lib/errors.js';
import { applyOrderCommand, type OrderChange, type OrderCommandResult } from './order-command.js';
import type { ProductCatalogue } from './product-catalogue.js';
import type { OrderUnitOfWork } from './order-unit-of-work.js';
import { findInvoiceOfPaymentIntent } from './invoice-payment-lookup.js';
import { orderIdOfStripeObject, resolveStoredEvent, unmatchedEventDisposition, type ResolvedEvent, type StripeAsk } from './stripe-event-resolver.js';

/** What a Stripe event came to, for the inbox to settle it. */
export type EventVerdict =
  /** Not an event Settle acts on. */
  | { kind: 'unsupported' }
  /** About a Stripe object Settle did not create: settled at once as `ignored`, nothing to wait for. */
  | { kind: 'ignored' }
  /** Stripe's event generation failed for an object of this order and is resolved: reconcile the order. */
  | { kind: 'reconcile'; orderId: string }
  /** No order matches yet (the webhook can beat the transaction that creates it). */
  | { kind: 'no_order'; error: string }
  /** `event`: what was processed (for a thin notification, the snapshot it resolved to). */
  | { kind: 'decided'; change: OrderChange; event: StripeEventLike };

export type StripeEventDeps = {
  catalogue: ProductCatalogue;
  logger: Logger;
  /** For what an event does not say (which invoice a PaymentIntent paid, a thin notification's snapshot); null offline. */
  stripe?: Stripe | null;
  /** Test seam: called before an event is applied; a throw is a handler fault. */
  beforeApply?: (event: StripeEventLike) => void;
};

/**
 * What a stored Stripe event means for Settle: map it to a command (payments-core) and apply it
 * to its order through the one order use case, inside the inbox's transaction. A malformed
 * subscription or invoice is a permanent error (dead-lettered with the mapper's reason).
 */
export async function processStripeEvent(
  trx: Trx,
  eventId: string,
  payload: unknown,
  deps: StripeEventDeps,
  unit: OrderUnitOfWork | undefined,
  /** The payload as `resolveStoredEvent` made it ready, read before the transaction (the inbox does). */
  ready: ResolvedEvent | undefined,
  /**
   * How the Stripe reads an event without an order needs are made (whose PaymentIntent or invoice
   * it is, which invoice a PaymentIntent paid): the inbox answers them from reads made before
   * its transaction.
   */
  ask: StripeAsk,
): Promise<EventVerdict> {
  // Thin notifications and disputes or refunds naming only their charge need a Stripe read: the
  // inbox makes it before its transaction (`needsStripeRead`); asked here, it runs inside.
  const resolved = ready ?? (await resolveStoredEvent(deps.stripe ?? null, payload));
  if (resolved.kind === 'unsupported') return { kind: 'unsupported' };
  if (resolved.kind === 'reconcile') {
    await unit?.writePending(trx);
    const orderId = await orderIdOfStripeObject((id) => findOrderIdByStripeObject(trx, id), deps.stripe ?? null, resolved.object, ask);
    // An object of someone else's in the same Stripe account: nothing of Settle's to reconcile.
    return orderId && (await findOrder(trx, orderId)) ? { kind: 'reconcile', orderId } : { kind: 'ignored' };
  }
  const event = resolved.event;
  deps.beforeApply?.(event);
  const mapped = mapStripeEvent(event);
  if (!mapped.supported) {
    if (mapped.malformed) throw new PermanentError(`${event.type}: ${mapped.reason}`);
    return { kind: 'unsupported' };
  }
  const apply = (command: PaymentCommand, ref: OrderRef = mapped.ref) => applyOrderCommand(
    trx,
    { ref, subscription: subscriptionRefOf(command) },
    { kind: 'stripe', command, customerEmail: checkoutEmailOf(event) },
    { at: event.created, catalogue: deps.catalogue, logger: deps.logger, ...(unit ? { unit } : {}) },
    { cause: 'stripe_event', actor: 'stripe', eventId, stripeAt: event.created },
  );
  let result = await apply(mapped.command);
  let paidInvoiceId: string | null = null;
  if (result.status === 'no_order' && isMoneyBackCommand(mapped.command)) {
    const via = await viaInvoiceOfPayment(event, mapped.command, apply, deps.stripe ?? null, ask);
    paidInvoiceId = via.invoiceId;
    result = via.result ?? result;
  }
  if (result.status === 'no_order') {
    if (isForeignPaymentIntent(event)) {
      // A PaymentIntent of Settle's own customer naming no order is a plan's invoice payment (since
      // basil a PaymentIntent names no invoice; the invoice confirms it): not an event Settle acts
      // on, and not another app's either.
      const customer = idOf((event.data.object as { customer?: unknown }).customer);
      return customer && (await isSettleCustomer(trx, customer)) ? { kind: 'unsupported' } : { kind: 'ignored' };
    }
    if (isForeignSubscriptionEvent(event)) return { kind: 'ignored' };
    await unit?.writePending(trx);
    const disposition = await unmatchedEventDisposition((pi) => isKnownPaymentIntent(trx, pi), deps.stripe ?? null, mapped.ref, mapped.command, paidInvoiceId, ask);
    if (disposition === 'ignore') return { kind: 'ignored' };
    return { kind: 'no_order', error: unmatchedError(mapped.ref, subscriptionRefOf(mapped.command)) };
  }
  if (result.status === 'refused') throw new Error(`event ${eventId}: a Stripe fact was refused like an admin override`);
  return { kind: 'decided', change: result, event };
}

const NO_ORDER_MATCHES = 'no order matches ';

/** What an event waiting for its order records: the references it was looked up by (read back by `unmatchedTarget`). */
function unmatchedError(ref: OrderRef, subscription: SubscriptionRef): string {
  return `${NO_ORDER_MATCHES}${JSON.stringify({ ...ref, ...subscription })}`;
}

/**
 * The order references an unmatched event was looked up by, from its recorded error: for a thin
 * notification they come from the snapshot Stripe served, which the stored payload does not hold.
 */
export function unmatchedTarget(lastError: string | null): { ref: OrderRef; subscription: SubscriptionRef } | null {
  if (!lastError?.startsWith(NO_ORDER_MATCHES)) return null;
  try {
    const r = JSON.parse(lastError.slice(NO_ORDER_MATCHES.length)) as Partial<OrderRef & SubscriptionRef>;
    const text = (v: unknown) => (typeof v === 'string' ? v : null);
    return {
      ref: { orderId: text(r.orderId), checkoutSessionId: text(r.checkoutSessionId), paymentIntentId: text(r.paymentIntentId) },
      subscription: { subscriptionId: text(r.subscriptionId), invoiceId: text(r.invoiceId), paymentIntentId: text(r.paymentIntentId) },
    };
  } catch {
    return null;
  }
}

/**
 * A refund or dispute of a subscription's payment that arrived before the `invoice_payment`
 * linking its PaymentIntent to an invoice: find the invoice (named on the charge by older API
 * versions, else through Stripe's invoice payments), record the link as that event would
 * have, and apply the refund or dispute again. `result` is null when no invoice was found or
 * Settle does not know the invoice yet (its `invoice.paid` may be in flight); `invoiceId` is the
 * invoice Stripe named, whose owner then decides whether the event waits.
 */
async function viaInvoiceOfPayment(
  event: StripeEventLike,
  command: PaymentCommand & { paymentIntentId: string },
  apply: (command: PaymentCommand, ref?: OrderRef) => Promise<OrderCommandResult>,
  stripe: Stripe | null,
  ask: StripeAsk,
): Promise<{ result: OrderCommandResult | null; invoiceId: string | null }> {
  const named = invoiceIdOfPayment(event.data.object);
  const { paymentIntentId } = command;
  const found = named
    ? { invoiceId: named, invoicePaymentId: null }
    : stripe
      ? await ask(`invoice paid by payment_intent ${paymentIntentId}`, () => findInvoiceOfPaymentIntent(stripe, paymentIntentId))
      : null;
  if (!found) return { result: null, invoiceId: null };
  const linked = await apply({
    type: 'invoice_payment_linked',
    invoiceId: found.invoiceId,
    invoicePaymentId: found.invoicePaymentId ?? `${found.invoiceId}:${command.paymentIntentId}`,
    paymentIntentId: command.paymentIntentId,
    chargeId: null,
    paid: true,
  }, { orderId: null, checkoutSessionId: null, paymentIntentId: null });
  return { result: linked.status === 'decided' ? await apply(command) : null, invoiceId: found.invoiceId };
}
