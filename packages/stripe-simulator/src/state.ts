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
  invoicePayments: Map<string, StripeObject>;
  portalSessions: Map<string, StripeObject>;
  /** Every event, in the order it happened, whether delivered or not. */
  events: Map<string, StripeEvent>;
  /** Thin notifications (`v2.core.event`) by id; each names its snapshot event. */
  thinEvents: Map<string, ThinEvent>;
  /** Stripe's own v2 events (health alerts) by id, with their `data`; they have no snapshot event. */
  v2Events: Map<string, V2Event>;
  /** How each event's delivery ended; an event without an entry has not been delivered (yet). */
  deliveries: Map<string, DeliveryState>;
  /** Events whose processing the receiver should fail (see `failsProcessing`), until fixed. */
  failing: Set<string>;
  /** Invoice numbers, unique across orders and restarts: `<prefix>-<sequence>`. */
  invoiceNumbers: Map<string, string>;
  invoiceNumbering: { prefix: string; next: number };
  prices: Map<string, KnownPrice>;
};

/** `dropped`: deliberately never delivered (a lost webhook); `failed`: the endpoint never acknowledged it. */
export type DeliveryState = 'delivered' | 'failed' | 'dropped';

/** A thin event as Stripe's event destinations send it: no snapshot, a reference to the changed object. */
export type ThinEvent = {
  id: string;
  object: 'v2.core.event';
  type: string;
  created: string;
  livemode: false;
  context: null;
  reason: { type: 'request'; request: { id: string; idempotency_key: string | null } } | null;
  related_object: { id: string; type: string; url: string };
  snapshot_event: string;
};

/**
 * A v2 event about Stripe itself, e.g. `v2.core.health.event_generation_failure.resolved`: its
 * notification carries no related object and no data; `GET /v2/core/events/:id` answers `data`.
 */
export type V2Event = {
  id: string;
  object: 'v2.core.event';
  type: string;
  created: string;
  livemode: false;
  context: null;
  reason: null;
  data: Record<string, unknown>;
};

/** What a session was created with that its object does not show. */
export type SessionExtras = {
  paymentIntentMetadata: Record<string, string>;
  invoiceEnabled: boolean;
  invoiceMetadata: Record<string, string>;
  /** `subscription_data.metadata` (subscription mode). */
  subscriptionMetadata: Record<string, string>;
  /** `subscription_data.trial_period_days` (subscription mode); null without a trial. */
  trialPeriodDays: number | null;
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
    invoicePayments: new Map(),
    portalSessions: new Map(),
    events: new Map(),
    thinEvents: new Map(),
    v2Events: new Map(),
    deliveries: new Map(),
    failing: new Set(),
    invoiceNumbers: new Map(),
    invoiceNumbering: { prefix: randomBytes(4).toString('hex').toUpperCase(), next: 1 },
    prices: new Map(Object.entries(prices)),
  };
}

/** The stored object an id names, found by its prefix. */
export function lookup(s: SimulatorState, id: string): StripeObject | StripeEvent | undefined {
  const byPrefix: [string, Map<string, StripeObject> | Map<string, StripeEvent>][] = [
    ['cus_', s.customers], ['cs_', s.checkoutSessions], ['pi_', s.paymentIntents], ['ch_', s.charges], ['re_', s.refunds],
    ['in_', s.invoices], ['inpay_', s.invoicePayments], ['dp_', s.disputes], ['du_', s.disputes], ['sub_', s.subscriptions], ['evt_', s.events],
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

/** The newest `created` among each state's events (found once, then kept up by `noteEvents`). */
const latestEventAt = new WeakMap<SimulatorState, number>();

function latestOf(s: SimulatorState): number {
  let latest = latestEventAt.get(s);
  if (latest === undefined) {
    latest = 0;
    for (const ev of s.events.values()) latest = Math.max(latest, ev.created);
    latestEventAt.set(s, latest);
  }
  return latest;
}

/** Record that these events happened (called wherever events are stored). */
export function noteEvents(s: SimulatorState, events: readonly StripeEvent[]): void {
  let latest = latestOf(s);
  for (const ev of events) latest = Math.max(latest, ev.created);
  latestEventAt.set(s, latest);
}

/**
 * The time of what the API does to existing objects (a refund, a resumption, a hosted invoice
 * paid, the events they cause). Journeys play out over simulated days and months, ahead of the
 * wall clock (a renewal, then dunning); what follows them must come after them, as on Stripe,
 * where time only moves forward (a test clock works the same way). So: now, or, while a journey
 * has run ahead of now, the second after its last event.
 */
export function simulatedNow(s: SimulatorState): number {
  const now = nowSeconds();
  const latest = latestOf(s);
  return latest > now ? latest + 1 : now;
}

export function clone<T>(v: T): T {
  return structuredClone(v);
}

/** An amount in minor units as people read it, e.g. `12.50 EUR`. */
export function money(amount: number, currency: string): string {
  return `${(amount / 100).toFixed(2)} ${currency.toUpperCase()}`;
}

/** The invoice's number: assigned once, on first sight, from the account-wide sequence. */
export function invoiceNumber(s: SimulatorState, invoiceId: string): string {
  let number = s.invoiceNumbers.get(invoiceId);
  if (!number) {
    number = `${s.invoiceNumbering.prefix}-${String(s.invoiceNumbering.next).padStart(4, '0')}`;
    s.invoiceNumbering.next += 1;
    s.invoiceNumbers.set(invoiceId, number);
  }
  return number;
}
