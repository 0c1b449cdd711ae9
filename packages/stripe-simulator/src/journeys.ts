/**
 * Scripted customer journeys: the Stripe events a real Checkout purchase or subscription emits,
 * in Stripe's own interleaving, with realistic objects. Used by the simulator to deliver webhooks
 * and by tests as the source of truth for "what Stripe sends".
 */
import { PAYMENT_JOURNEYS, type PaymentJourney } from './payment-journeys.js';
import { SUBSCRIPTION_JOURNEYS, type SubscriptionJourney } from './subscription-journeys.js';

export * from './delivery-order.js';
export * from './payment-journeys.js';
export * from './stripe-events.js';
export * from './subscription-journeys.js';

/** Any scripted journey: payment journeys run on payment-mode sessions, subscription journeys on subscription-mode ones. */
export type Journey = PaymentJourney | SubscriptionJourney;

export const ALL_JOURNEYS: readonly Journey[] = [...PAYMENT_JOURNEYS, ...SUBSCRIPTION_JOURNEYS];

export function isJourney(name: string): name is Journey {
  return (ALL_JOURNEYS as readonly string[]).includes(name);
}
