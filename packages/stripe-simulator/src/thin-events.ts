/**
 * Thin events: what Stripe's event destinations send instead of a snapshot. The notification
 * (`"object": "v2.core.event"`, type `v1.<snapshot type>`) names the changed object
 * (`related_object {id, type, url}`) and its snapshot event (`snapshot_event`); the receiver
 * fetches either through the API (`GET /v2/core/events/:id`, the object's URL, `GET /v1/events/:id`).
 */
import { randomId, type SimulatorState, type ThinEvent, type V2Event } from './state.js';
import type { StripeEvent } from './stripe-events.js';

/** Where the API serves each kind of object the simulator's events carry. */
const OBJECT_PATHS: Record<string, string> = {
  'checkout.session': '/v1/checkout/sessions',
  charge: '/v1/charges',
  customer: '/v1/customers',
  dispute: '/v1/disputes',
  invoice: '/v1/invoices',
  invoice_payment: '/v1/invoice_payments',
  payment_intent: '/v1/payment_intents',
  refund: '/v1/refunds',
  subscription: '/v1/subscriptions',
};

/** The thin notification of a snapshot event: made once, then the same one for every delivery. */
export function thinEventOf(s: SimulatorState, ev: StripeEvent): ThinEvent {
  for (const thin of s.thinEvents.values()) if (thin.snapshot_event === ev.id) return thin;
  const object = ev.data.object as { id?: unknown; object?: unknown };
  const type = String(object.object);
  const path = OBJECT_PATHS[type];
  if (typeof object.id !== 'string' || !path) throw new Error(`no thin event for ${ev.type}: the simulator does not serve ${type} objects`);
  const thin: ThinEvent = {
    id: `evt_test_65${randomId(40)}`,
    object: 'v2.core.event',
    type: `v1.${ev.type}`,
    created: new Date(ev.created * 1000).toISOString(),
    livemode: false,
    context: null,
    reason: ev.request.id ? { type: 'request', request: { id: ev.request.id, idempotency_key: ev.request.idempotency_key } } : null,
    related_object: { id: object.id, type, url: `${path}/${object.id}` },
    snapshot_event: ev.id,
  };
  s.thinEvents.set(thin.id, thin);
  return thin;
}

/** The thin notification Stripe delivers for a v2 event: everything but its `data`. */
export type V2EventNotification = Omit<V2Event, 'data'>;

/**
 * Stripe failed to generate the events of one object for a while, then resolved it: it records a
 * `v2.core.health.event_generation_failure.resolved` event whose `data.impact` names the object
 * and the event type it could not make (Stripe's "Handle webhook event generation failures").
 * Answers the notification to deliver; the receiver fetches the rest with `GET /v2/core/events/:id`.
 */
export function eventGenerationFailureResolved(
  s: SimulatorState,
  related: { id: string; type: string },
  impact: { eventType: string; resolvedAt?: Date },
): V2EventNotification {
  const path = OBJECT_PATHS[related.type];
  if (!path) throw new Error(`no event generation failure for a ${related.type}: the simulator does not serve those objects`);
  const resolvedAt = impact.resolvedAt ?? new Date();
  const event: V2Event = {
    id: `evt_test_65${randomId(40)}`,
    object: 'v2.core.event',
    type: 'v2.core.health.event_generation_failure.resolved',
    created: resolvedAt.toISOString(),
    livemode: false,
    context: null,
    reason: null,
    data: {
      alert_id: `halert_${randomId(48)}`,
      grouping_key: `_grouping_${randomId(48)}`,
      severity: 'critical',
      summary: `Stripe failed to generate ${impact.eventType} events`,
      resolved_at: resolvedAt.toISOString(),
      impact: { event_type: impact.eventType, related_object: { id: related.id, type: related.type, url: `${path}/${related.id}` } },
    },
  };
  s.v2Events.set(event.id, event);
  const { data: _data, ...notification } = event;
  return notification;
}
