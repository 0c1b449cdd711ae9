/**
 * Scripted customer journeys: the Stripe events a real Checkout purchase or subscription emits,
 * in Stripe's own interleaving, with realistic objects. Used by the simulator to deliver webhooks
 * and by tests as the source of truth for "what Stripe sends".
 */
import { FOREIGN_JOURNEYS, INCIDENT_JOURNEYS, type ForeignJourney, type IncidentJourney } from './incident-journeys.js';
import { PAYMENT_JOURNEYS, type PaymentJourney } from './payment-journeys.js';
import { SUBSCRIPTION_JOURNEYS, SUBSCRIPTION_LIFECYCLE_JOURNEYS, isSubscriptionJourney, type SubscriptionJourney } from './subscription-journeys.js';

export * from './delivery-order.js';
export * from './incident-journeys.js';
export * from './payment-journeys.js';
export * from './stripe-events.js';
export * from './subscription-journeys.js';

/**
 * Any scripted journey: payment and incident journeys run on payment-mode sessions, subscription
 * journeys on subscription-mode ones, foreign journeys on no session at all.
 */
export type Journey = PaymentJourney | IncidentJourney | SubscriptionJourney | ForeignJourney;

export const ALL_JOURNEYS: readonly Journey[] = [
  ...PAYMENT_JOURNEYS, ...INCIDENT_JOURNEYS, ...SUBSCRIPTION_JOURNEYS, ...SUBSCRIPTION_LIFECYCLE_JOURNEYS, ...FOREIGN_JOURNEYS,
];

/** The journeys by the session they run on: what the hosted page, the control API and the CLI offer. */
export const JOURNEYS_BY_SESSION_MODE = {
  payment: [...PAYMENT_JOURNEYS, ...INCIDENT_JOURNEYS],
  subscription: [...SUBSCRIPTION_JOURNEYS, ...SUBSCRIPTION_LIFECYCLE_JOURNEYS],
  none: [...FOREIGN_JOURNEYS],
} as const;

export function isJourney(name: string): name is Journey {
  return (ALL_JOURNEYS as readonly string[]).includes(name);
}

/** The Checkout mode a journey's session must have; null for a journey that needs no session. */
export function journeyMode(journey: Journey): 'payment' | 'subscription' | null {
  if (isSubscriptionJourney(journey)) return 'subscription';
  return (FOREIGN_JOURNEYS as readonly string[]).includes(journey) ? null : 'payment';
}
