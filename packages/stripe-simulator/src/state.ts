/**
 * What the simulator remembers: Stripe's objects by id, plus what a Checkout Session was created
 * with that its object does not show. Also the small id and time helpers every part uses.
 */
import { randomBytes } from 'node:crypto';
import type { StripeEvent } from './stripe-events.js';

export type StripeObject = { id: string; object: string; [field: string]: unknown };

/** A Price the simulator knows by id, for line items given as `{ price, quantity }`. */
export type KnownPrice = {
  unit_amount: number;
  currency: string;
  /** Product id; one is made up when absent. */
  product?: string;
  /** Shown as the line item's description. */
  name?: string;
  recurring?: { interval: 'day' | 'week' | 'month' | 'year'; interval_count?: number } | null;
};

export type SimulatorState = {
  customers: Map<string, StripeObject>;
  checkoutSessions: Map<string, StripeObject>;
  paymentIntents: Map<string, StripeObject>;
  charges: Map<string, StripeObject>;
  refunds: Map<string, StripeObject>;
  invoices: Map<string, StripeObject>;
  disputes: Map<string, StripeObject>;
  subscriptions: Map<string, StripeObject>;
  /** Every event, in the order it happened. */
  events: Map<string, StripeEvent>;
  prices: Map<string, KnownPrice>;
};

/** What a session was created with that its object does not show. */
export type SessionExtras = {
  paymentIntentMetadata: Record<string, string>;
  invoiceEnabled: boolean;
  invoiceMetadata: Record<string, string>;
  /** `subscription_data.metadata` (subscription mode). */
  subscriptionMetadata: Record<string, string>;
  lineItems: StripeObject[];
};

export function emptyState(prices: Record<string, KnownPrice> = {}): SimulatorState {
  return {
    customers: new Map(),
    checkoutSessions: new Map(),
    paymentIntents: new Map(),
    charges: new Map(),
    refunds: new Map(),
    invoices: new Map(),
    disputes: new Map(),
    subscriptions: new Map(),
    events: new Map(),
    prices: new Map(Object.entries(prices)),
  };
}

/** The stored object an id names, found by its prefix. */
export function lookup(s: SimulatorState, id: string): StripeObject | StripeEvent | undefined {
  const byPrefix: [string, Map<string, StripeObject> | Map<string, StripeEvent>][] = [
    ['cus_', s.customers], ['cs_', s.checkoutSessions], ['pi_', s.paymentIntents], ['ch_', s.charges], ['re_', s.refunds],
    ['in_', s.invoices], ['dp_', s.disputes], ['du_', s.disputes], ['sub_', s.subscriptions], ['evt_', s.events],
  ];
  for (const [prefix, map] of byPrefix) if (id.startsWith(prefix)) return map.get(id);
  return undefined;
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export function randomId(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const b of bytes) out += BASE62[b % 62];
  return out;
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

export function clone<T>(v: T): T {
  return structuredClone(v);
}

/** An amount in minor units as people read it, e.g. `12.50 EUR`. */
export function money(amount: number, currency: string): string {
  return `${(amount / 100).toFixed(2)} ${currency.toUpperCase()}`;
}
