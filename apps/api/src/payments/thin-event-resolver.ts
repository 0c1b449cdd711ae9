import type { StripeEventLike } from '@settle/payments-core';
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
  related_object?: { id: string; type: string; url: string } | null;
};

/** Stripe generated no event for an object for a while (an incident on its side); it is resolved now. */
export const EVENT_GENERATION_RESOLVED = 'v2.core.health.event_generation_failure.resolved';

export function isThinNotification(payload: unknown): payload is ThinNotification {
  return typeof payload === 'object' && payload !== null && (payload as { object?: unknown }).object === 'v2.core.event';
}

export type ThinResolution =
  /** A v1 event to process through the usual path. */
  | { kind: 'event'; event: StripeEventLike; via: 'snapshot_event' | 'related_object' }
  /** Stripe's event generation failed for this object: ask Stripe for its truth (reconcile). */
  | { kind: 'reconcile'; objectType: string; objectId: string }
  /** Nothing Settle reads (a v2 event about something else). */
  | { kind: 'unsupported'; reason: string };

/** A failure to resolve through Stripe; always retried on the inbox's schedule, then dead with Stripe's words. */
export class ThinEventUnresolved extends Error {
  override name = 'ThinEventUnresolved';
}

function stripeError(err: unknown): string {
  const e = err as { type?: unknown; statusCode?: unknown; code?: unknown; message?: unknown };
  const parts = [typeof e?.statusCode === 'number' ? String(e.statusCode) : null, typeof e?.type === 'string' ? e.type : null, typeof e?.code === 'string' ? e.code : null];
  const head = parts.filter(Boolean).join(' ');
  return `${head ? `${head}: ` : ''}${typeof e?.message === 'string' ? e.message : String(err)}`;
}

export async function resolveThinEvent(stripe: Stripe | null, n: ThinNotification): Promise<ThinResolution> {
  if (n.type === EVENT_GENERATION_RESOLVED) {
    const related = n.related_object;
    return related ? { kind: 'reconcile', objectType: related.type, objectId: related.id } : { kind: 'unsupported', reason: 'no related object' };
  }
  if (!n.type.startsWith('v1.')) return { kind: 'unsupported', reason: `thin event type ${n.type} is not supported` };
  if (!stripe) throw new ThinEventUnresolved(`thin event ${n.id} needs the Stripe API, which is not configured on this server`);
  if (n.snapshot_event) {
    try {
      const event = await stripe.events.retrieve(n.snapshot_event);
      return { kind: 'event', event, via: 'snapshot_event' };
    } catch (err) {
      throw new ThinEventUnresolved(`could not fetch snapshot event ${n.snapshot_event} of ${n.id}: Stripe ${stripeError(err)}`);
    }
  }
  if (!n.related_object) return { kind: 'unsupported', reason: 'thin event names neither a snapshot event nor an object' };
  let object: unknown;
  try {
    const notification = stripe.parseEventNotificationWithoutVerification(JSON.stringify(n)) as { fetchRelatedObject(): Promise<unknown> };
    object = await notification.fetchRelatedObject();
  } catch (err) {
    throw new ThinEventUnresolved(`could not fetch ${n.related_object.type} ${n.related_object.id} of ${n.id}: Stripe ${stripeError(err)}`);
  }
  return {
    kind: 'event',
    via: 'related_object',
    // The object as it is now, under the notification's own id and time: the decision is the same
    // as for the snapshot (late or repeated facts are harmless to it).
    event: { id: n.id, type: n.type.slice(3), created: Math.floor(Date.parse(n.created) / 1000), data: { object } },
  };
}
