import { isKnownPaymentIntent, type Trx } from '@settle/db';
import { checkoutEmailOf, mapStripeEvent, subscriptionIdOf, type StripeEventLike } from '@settle/payments-core';
import type { Logger } from 'pino';
import type Stripe from 'stripe';
import { applyOrderCommand, type OrderChange } from './order-command.js';
import type { ProductCatalogue } from './product-catalogue.js';
import { resolveStoredEvent, unmatchedEventDisposition } from './stripe-event-resolver.js';

/** What a Stripe event came to, for the inbox to settle it. */
export type EventVerdict =
  /** Not an event Settle acts on. */
  | { kind: 'unsupported' }
  /** About a Stripe object Settle did not create: settled at once as `ignored`, nothing to wait for. */
  | { kind: 'ignored' }
  /** Stripe's event generation failed for this object and is resolved: reconcile its order. */
  | { kind: 'reconcile'; objectId: string }
  /** No order matches yet (the webhook can beat the transaction that creates it). */
  | { kind: 'no_order'; error: string }
  /** `event`: what was processed (for a thin notification, the snapshot it resolved to). */
  | { kind: 'decided'; change: OrderChange; event: StripeEventLike };

export type StripeEventDeps = {
  catalogue: ProductCatalogue;
  /** Resolves thin notifications and legacy charge references; null offline. */
  stripe: Stripe | null;
  logger: Logger;
  /** Test seam: called before an event is applied; a throw is a handler fault. */
  beforeApply?: (event: StripeEventLike) => void;
};

/**
 * What a stored Stripe event means for Settle: map it to a command (payments-core) and apply it
 * to its order through the one order use case, inside the inbox's transaction.
 */
export async function processStripeEvent(trx: Trx, eventId: string, payload: unknown, deps: StripeEventDeps): Promise<EventVerdict> {
  // Thin notifications and disputes or refunds naming only their charge need a Stripe read; the
  // inbox's transaction stays open for it, which these rare events can afford.
  const resolved = await resolveStoredEvent(deps.stripe, payload);
  if (resolved.kind === 'unsupported') return { kind: 'unsupported' };
  if (resolved.kind === 'reconcile') return resolved;
  const event = resolved.event;
  deps.beforeApply?.(event);
  const mapped = mapStripeEvent(event);
  if (!mapped.supported) return { kind: 'unsupported' };
  const result = await applyOrderCommand(
    trx,
    { ref: mapped.ref, subscriptionId: subscriptionIdOf(mapped.command) },
    { kind: 'stripe', command: mapped.command, customerEmail: checkoutEmailOf(event) },
    { at: event.created, catalogue: deps.catalogue, logger: deps.logger },
    { cause: 'stripe_event', actor: 'stripe', eventId, stripeAt: event.created },
  );
  if (result.status === 'no_order') {
    const disposition = await unmatchedEventDisposition((pi) => isKnownPaymentIntent(trx, pi), deps.stripe, mapped.ref, mapped.command);
    if (disposition === 'ignore') return { kind: 'ignored' };
    return { kind: 'no_order', error: `no order matches ${JSON.stringify(mapped.ref)}` };
  }
  if (result.status === 'refused') throw new Error(`event ${eventId}: a Stripe fact was refused like an admin override`);
  return { kind: 'decided', change: result, event };
}
