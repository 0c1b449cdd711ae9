import { HANDLED_EVENT_TYPES, idOf, isChargeLevelCommand, orderIdOfInvoice, unmatchedDisposition, type OrderRef, type PaymentCommand, type PaymentIntentOwner, type StripeEventLike } from '@settle/payments-core';
import type { NewStripeEvent } from '@settle/db';
import type Stripe from 'stripe';

/**
 * Turns a stored thin event notification into the snapshot event Settle's mapper reads: the
 * snapshot event it names (`snapshot_event`, `GET /v1/events/{id}`), else its related object as
 * it is now (the notification's own `fetchRelatedObject`). Both go through the official SDK.
 */

export type ThinNotification = {
  id: string;
  object: 'v2.core.event';
  type: string;
  created: string;
  livemode?: boolean;
  snapshot_event?: string | null;
  related_object?: { id?: string; type: string; url: string } | null;
};

/**
 * Stripe generated no event for an object for a while (an incident on its side); it is resolved
 * now. Its notification names no object: the event itself (`GET /v2/core/events/{id}`) does, in
 * `data.impact.related_object {id, type, url}`, beside the event type it failed to make.
 */
export const EVENT_GENERATION_RESOLVED = 'v2.core.health.event_generation_failure.resolved';

/** An object Stripe names: what the reconciler is asked about. */
export type StripeObjectRef = { id: string; type: string };

export function isThinNotification(payload: unknown): payload is ThinNotification {
  return typeof payload === 'object' && payload !== null && (payload as { object?: unknown }).object === 'v2.core.event';
}

export type ThinResolution =
  /** A v1 event to process through the usual path. */
  | { kind: 'event'; event: StripeEventLike; via: 'snapshot_event' | 'related_object' }
  /** Stripe's event generation failed for this object: ask Stripe for its truth (reconcile). */
  | { kind: 'reconcile'; object: StripeObjectRef }
  /** Nothing Settle reads (a v2 event about something else). */
  | { kind: 'unsupported'; reason: string };

/** A Stripe API read an event needs failed; always retried on the inbox's schedule, then dead with Stripe's words. */
export class StripeLookupFailed extends Error {
  override name = 'StripeLookupFailed';
}

function stripeError(err: unknown): string {
  const e = err as { type?: unknown; statusCode?: unknown; code?: unknown; message?: unknown };
  const parts = [typeof e?.statusCode === 'number' ? String(e.statusCode) : null, typeof e?.type === 'string' ? e.type : null, typeof e?.code === 'string' ? e.code : null];
  const head = parts.filter(Boolean).join(' ');
  return `${head ? `${head}: ` : ''}${typeof e?.message === 'string' ? e.message : String(err)}`;
}

/**
 * Whether a thin notification is one Settle reads through the Stripe API: an event generation
 * failure resolved, or a v1 event of a type Settle acts on. Any other (`v1.customer.deleted`, a v2
 * event about something else) is settled as unsupported with no read: its object may be gone at
 * Stripe (a deleted customer answers 404), and a read would only end in the dead letters.
 */
function isThinTypeRead(type: string): boolean {
  return type === EVENT_GENERATION_RESOLVED || (type.startsWith('v1.') && HANDLED_EVENT_TYPES.has(type.slice(3)));
}

/**
 * Whether Settle acts on a stored event of this type at all (`thin`: a thin notification's type).
 * One it does not is settled as `unsupported` as it is stored (see the webhook route), so it never
 * costs a processing round, a claim or a Stripe read.
 */
export function actsOnEventType(type: string, thin: boolean): boolean {
  return thin ? isThinTypeRead(type) : HANDLED_EVENT_TYPES.has(type);
}

/**
 * An event of a type Settle never acts on (`charge.updated`, `customer.created`, …) is stored
 * already settled as `unsupported` (processed on receipt, no attempt), instead of pending: the
 * outcome processing would reach, without its claim, transaction and row update. Replay still
 * puts it back in the queue like any other event. Both doors into the inbox use it: the webhook
 * route and the recovery of missed events.
 */
export function settledOnReceipt(row: NewStripeEvent, thin: boolean): NewStripeEvent {
  return actsOnEventType(row.type, thin) ? row : { ...row, state: 'processed', outcome: 'unsupported' };
}

export async function resolveThinEvent(stripe: Stripe | null, n: ThinNotification): Promise<ThinResolution> {
  if (!isThinTypeRead(n.type)) return { kind: 'unsupported', reason: `thin event type ${n.type} is not one Settle acts on` };
  if (!stripe) throw new StripeLookupFailed(`thin event ${n.id} needs the Stripe API, which is not configured on this server`);
  if (n.type === EVENT_GENERATION_RESOLVED) {
    let event: { data?: { impact?: { related_object?: { id?: unknown; type?: unknown } | null } } };
    try {
      event = (await stripe.v2.core.events.retrieve(n.id)) as typeof event;
    } catch (err) {
      throw new StripeLookupFailed(`could not fetch event ${n.id}: Stripe ${stripeError(err)}`);
    }
    const related = event.data?.impact?.related_object;
    return typeof related?.id === 'string' && typeof related.type === 'string'
      ? { kind: 'reconcile', object: { id: related.id, type: related.type } }
      : { kind: 'unsupported', reason: 'event generation failure without a related object' };
  }
  if (n.snapshot_event) {
    try {
      const event = await stripe.events.retrieve(n.snapshot_event);
      return { kind: 'event', event, via: 'snapshot_event' };
    } catch (err) {
      throw new StripeLookupFailed(`could not fetch snapshot event ${n.snapshot_event} of ${n.id}: Stripe ${stripeError(err)}`);
    }
  }
  if (!n.related_object) return { kind: 'unsupported', reason: 'thin event names neither a snapshot event nor an object' };
  let object: unknown;
  try {
    const notification = stripe.parseEventNotificationWithoutVerification(JSON.stringify(n)) as { fetchRelatedObject(): Promise<unknown> };
    object = await notification.fetchRelatedObject();
  } catch (err) {
    throw new StripeLookupFailed(`could not fetch ${n.related_object.type} ${n.related_object.id ?? n.related_object.url} of ${n.id}: Stripe ${stripeError(err)}`);
  }
  return {
    kind: 'event',
    via: 'related_object',
    // The object as it is now, under the notification's own id and time: the decision is the same
    // as for the snapshot (late or repeated facts are harmless to it).
    event: { id: n.id, type: n.type.slice(3), created: Math.floor(Date.parse(n.created) / 1000), data: { object } },
  };
}

const CHARGE_LEVEL = /^(charge\.dispute\.|refund\.|charge\.refund\.updated$|charge\.refunded$)/;

/**
 * Disputes, refunds and refunded charges rendered before API version 2019-02-11 name only their
 * charge (a string id, or the charge itself), never the PaymentIntent Settle knows orders by: ask
 * Stripe which PaymentIntent the charge belongs to and fill it in. Anything else is returned unchanged.
 */
export async function completeChargeReference(stripe: Stripe | null, event: StripeEventLike): Promise<StripeEventLike> {
  const chargeId = chargeToComplete(event);
  if (!stripe || chargeId === null) return event;
  let paymentIntent: unknown;
  try {
    paymentIntent = (await stripe.charges.retrieve(chargeId)).payment_intent;
  } catch (err) {
    throw new StripeLookupFailed(`could not fetch charge ${chargeId} of ${event.id}: Stripe ${stripeError(err)}`);
  }
  const object = event.data.object as Record<string, unknown>;
  return paymentIntent ? { ...event, data: { ...event.data, object: { ...object, payment_intent: paymentIntent } } } : event;
}

/** The charge whose PaymentIntent `completeChargeReference` must ask Stripe for; null when the event names it. */
function chargeToComplete(event: StripeEventLike): string | null {
  const object = event.data?.object as { id?: unknown; object?: unknown; payment_intent?: unknown; charge?: unknown } | null;
  if (!object || !CHARGE_LEVEL.test(event.type)) return null;
  const chargeId = object.object === 'charge' ? object.id : object.charge;
  return object.payment_intent || typeof chargeId !== 'string' ? null : chargeId;
}

/**
 * Whether `resolveStoredEvent` asks Stripe about this stored payload (a thin notification Settle
 * reads, a refund or dispute naming only its charge). The inbox asks Stripe for these before it
 * opens a transaction, so no row stays locked while Stripe answers.
 */
export function needsStripeRead(payload: unknown): boolean {
  if (isThinNotification(payload)) return isThinTypeRead(payload.type);
  if (typeof payload !== 'object' || payload === null || typeof (payload as { type?: unknown }).type !== 'string') return false;
  return chargeToComplete(payload as StripeEventLike) !== null;
}

/**
 * A read of Stripe that processing needs, under a name that says what it asks (the same name is
 * the same question). Processing inside a transaction gets an `ask` that answers only what was
 * read before the transaction and otherwise stops the attempt, so the inbox can read with no row
 * locked and run the event again (see `inbox-processor`). `read` does the whole read, error
 * translation included: its result or error is the answer.
 */
export type StripeAsk = <T>(question: string, read: () => Promise<T>) => Promise<T>;

/**
 * Whether Settle created a PaymentIntent (for refunds and disputes whose order was not found):
 * known to the database, or carrying Settle's `metadata.orderId` at Stripe. Without a Stripe API
 * nobody can tell.
 */
export async function paymentIntentOwner(
  isKnown: (paymentIntentId: string) => Promise<boolean>,
  stripe: Stripe | null,
  paymentIntentId: string,
  ask: StripeAsk,
): Promise<PaymentIntentOwner> {
  if (await isKnown(paymentIntentId)) return 'settle';
  if (!stripe) return 'unknown';
  return ask(`owner of payment_intent ${paymentIntentId}`, async (): Promise<PaymentIntentOwner> => {
    try {
      const intent = await stripe.paymentIntents.retrieve(paymentIntentId);
      return typeof intent.metadata?.orderId === 'string' ? 'settle' : 'foreign';
    } catch (err) {
      if ((err as { statusCode?: unknown }).statusCode === 404) return 'unknown';
      throw new StripeLookupFailed(`could not fetch payment intent ${paymentIntentId}: Stripe ${stripeError(err)}`);
    }
  });
}

/** A stored event made ready for the mapper. */
export type ResolvedEvent =
  | { kind: 'event'; event: StripeEventLike }
  /** Stripe could not generate events for this object for a while: reconcile it. */
  | { kind: 'reconcile'; object: StripeObjectRef }
  | { kind: 'unsupported'; reason: string };

/**
 * What the mapper reads for a stored event: a thin notification is resolved through Stripe (its
 * snapshot event or related object); a dispute or refund that names only its charge gets the
 * charge's PaymentIntent. Everything else is the stored payload itself. Only these events call
 * Stripe (`needsStripeRead`); a failed call throws `StripeLookupFailed` (retried, then dead with
 * Stripe's words).
 */
export async function resolveStoredEvent(stripe: Stripe | null, payload: unknown): Promise<ResolvedEvent> {
  if (isThinNotification(payload)) {
    const r = await resolveThinEvent(stripe, payload);
    if (r.kind === 'reconcile') return r;
    if (r.kind === 'unsupported') return r;
    return { kind: 'event', event: await completeChargeReference(stripe, r.event) };
  }
  return { kind: 'event', event: await completeChargeReference(stripe, payload as StripeEventLike) };
}

/**
 * An event whose order was not found: ignore it (an object Settle did not create) or wait for
 * its order (see `unmatchedDisposition`). Only refunds and disputes ask whose PaymentIntent it is;
 * when Stripe said which invoice their PaymentIntent paid (`paidInvoiceId`), the invoice's owner
 * answers (a plan's PaymentIntent carries no order id of its own).
 */
export async function unmatchedEventDisposition(
  isKnown: (paymentIntentId: string) => Promise<boolean>,
  stripe: Stripe | null,
  ref: OrderRef,
  command: PaymentCommand,
  paidInvoiceId: string | null,
  ask: StripeAsk,
): Promise<'wait' | 'ignore'> {
  if (!ref.orderId && command.type === 'invoice_payment_linked') return unmatchedDisposition(ref, command, await invoiceOwner(stripe, command.invoiceId, ask));
  if (!ref.orderId && paidInvoiceId && isChargeLevelCommand(command)) return unmatchedDisposition(ref, command, await invoiceOwner(stripe, paidInvoiceId, ask));
  const owner = !ref.orderId && isChargeLevelCommand(command) && ref.paymentIntentId ? await paymentIntentOwner(isKnown, stripe, ref.paymentIntentId, ask) : 'unknown';
  return unmatchedDisposition(ref, command, owner);
}

/** Who created an invoice: Settle's carry its order id (their own or their subscription's metadata). */
async function invoiceOwner(stripe: Stripe | null, invoiceId: string, ask: StripeAsk): Promise<PaymentIntentOwner> {
  if (!stripe) return 'unknown';
  return ask(`owner of invoice ${invoiceId}`, async (): Promise<PaymentIntentOwner> => {
    try {
      return orderIdOfInvoice(await stripe.invoices.retrieve(invoiceId)) ? 'settle' : 'foreign';
    } catch (err) {
      if ((err as { statusCode?: unknown }).statusCode === 404) return 'unknown';
      throw new StripeLookupFailed(`could not fetch invoice ${invoiceId}: Stripe ${stripeError(err)}`);
    }
  });
}

/**
 * The Settle order a Stripe object belongs to, for reconciling it after Stripe failed to make its
 * events: Settle's own record of the id first (Checkout Session, PaymentIntent, subscription);
 * else Stripe's word, since Settle may have missed every event that would have told it the id:
 * the `metadata.orderId` Settle puts on its sessions, PaymentIntents and subscriptions, a
 * charge's, refund's or dispute's PaymentIntent, an invoice's owner. Null: not Settle's.
 */
export async function orderIdOfStripeObject(
  findLocal: (objectId: string) => Promise<string | null>,
  stripe: Stripe | null,
  object: StripeObjectRef,
  ask: StripeAsk,
): Promise<string | null> {
  const local = await findLocal(object.id);
  if (local || !stripe) return local;
  const metaOrderId = (o: { metadata?: Record<string, string> | null }) => o.metadata?.orderId ?? null;
  // Stripe's word on one object (404: not an object Stripe knows, so not Settle's either).
  const read = (ref: StripeObjectRef, fetch: () => Promise<string | null>) =>
    ask(`${ref.type} ${ref.id}`, async () => {
      try {
        return await fetch();
      } catch (err) {
        if ((err as { statusCode?: unknown }).statusCode === 404) return null;
        throw new StripeLookupFailed(`could not fetch ${ref.type} ${ref.id}: Stripe ${stripeError(err)}`);
      }
    });
  // A charge, refund or dispute: its PaymentIntent's order, Settle's record of it first.
  const viaPaymentIntent = async (paymentIntentId: string | null): Promise<string | null> => {
    if (!paymentIntentId) return null;
    return (await findLocal(paymentIntentId)) ?? read({ type: 'payment_intent', id: paymentIntentId }, async () => metaOrderId(await stripe.paymentIntents.retrieve(paymentIntentId)));
  };
  switch (object.type) {
    case 'payment_intent':
      return read(object, async () => metaOrderId(await stripe.paymentIntents.retrieve(object.id)));
    case 'checkout.session':
      return read(object, async () => metaOrderId(await stripe.checkout.sessions.retrieve(object.id)));
    case 'subscription':
      return read(object, async () => metaOrderId(await stripe.subscriptions.retrieve(object.id)));
    case 'invoice':
      return read(object, async () => orderIdOfInvoice(await stripe.invoices.retrieve(object.id)));
    case 'charge':
      return viaPaymentIntent(await read(object, async () => idOf((await stripe.charges.retrieve(object.id)).payment_intent)));
    case 'refund':
      return viaPaymentIntent(await read(object, async () => idOf((await stripe.refunds.retrieve(object.id)).payment_intent)));
    case 'dispute':
      return viaPaymentIntent(await read(object, async () => idOf((await stripe.disputes.retrieve(object.id)).payment_intent)));
    default:
      return null;
  }
}
