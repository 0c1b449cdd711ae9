import type { Trx } from '@settle/db';
import { checkoutEmailOf, isForeignPaymentIntent, mapStripeEvent, subscriptionIdOf, type StripeEventLike } from '@settle/payments-core';
import type { Logger } from 'pino';
import { applyOrderCommand, type OrderChange } from './order-command.js';
import type { ProductCatalogue } from './product-catalogue.js';

/** What a Stripe event came to, for the inbox to settle it. */
export type EventVerdict =
  /** Not an event Settle acts on. */
  | { kind: 'unsupported' }
  /** A PaymentIntent Settle did not create: nothing to wait for. */
  | { kind: 'not_settle' }
  /** No order matches yet (the webhook can beat the transaction that creates it). */
  | { kind: 'no_order'; error: string }
  | { kind: 'decided'; change: OrderChange };

export type StripeEventDeps = {
  catalogue: ProductCatalogue;
  logger: Logger;
  /** Test seam: called before an event is applied; a throw is a handler fault. */
  beforeApply?: (event: StripeEventLike) => void;
};

/**
 * What a stored Stripe event means for Settle: map it to a command (payments-core) and apply it
 * to its order through the one order use case, inside the inbox's transaction.
 */
export async function processStripeEvent(trx: Trx, eventId: string, event: StripeEventLike, deps: StripeEventDeps): Promise<EventVerdict> {
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
    if (isForeignPaymentIntent(event)) return { kind: 'not_settle' };
    return { kind: 'no_order', error: `no order matches ${JSON.stringify(mapped.ref)}` };
  }
  if (result.status === 'refused') throw new Error(`event ${eventId}: a Stripe fact was refused like an admin override`);
  return { kind: 'decided', change: result };
}
