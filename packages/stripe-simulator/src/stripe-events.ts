/** The event envelope Stripe delivers, and how the journeys make one. */

export type StripeEvent = {
  id: string;
  object: 'event';
  api_version: string;
  created: number;
  livemode: false;
  pending_webhooks: number;
  request: { id: string | null; idempotency_key: string | null };
  type: string;
  data: { object: Record<string, unknown>; previous_attributes?: Record<string, unknown> };
};

/** The API version the simulator's events are rendered in. */
export const SIMULATOR_API_VERSION = '2026-10-28.endive';
let counter = 0;

/** A unique simulated id, e.g. `pi_simAb12000001`; the suffix keeps ids apart across simulator runs. */
export function rand(prefix: string, suffix: string): string {
  counter += 1;
  return `${prefix}_sim${suffix}${counter.toString(36).padStart(6, '0')}`;
}

/** An event as Stripe sends it when nothing asked for it (no request id). */
export function event(type: string, created: number, object: Record<string, unknown>, suffix: string, previous?: Record<string, unknown>): StripeEvent {
  return {
    id: rand('evt', suffix),
    object: 'event',
    api_version: SIMULATOR_API_VERSION,
    created,
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
    data: { object, ...(previous ? { previous_attributes: previous } : {}) },
  };
}
