/**
 * Thin events: what Stripe's event destinations send instead of a snapshot. The notification
 * (`"object": "v2.core.event"`, type `v1.<snapshot type>`) names the changed object
 * (`related_object {id, type, url}`) and its snapshot event (`snapshot_event`); the receiver
 * fetches either through the API (`GET /v2/core/events/:id`, the object's URL, `GET /v1/events/:id`).
 */
import { randomId, type SimulatorState, type ThinEvent } from './state.js';
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
