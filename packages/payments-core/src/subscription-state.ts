/**
 * The subscription state machine: Stripe's subscription statuses, the status Settle exposes,
 * and the order-proof rule that decides whether a subscription fact (a `customer.subscription.*`
 * event, or the first paid invoice) replaces what is known. Pure data and functions; no I/O.
 */

export const STRIPE_SUBSCRIPTION_STATUSES = [
  'incomplete',
  'incomplete_expired',
  'trialing',
  'active',
  'past_due',
  'unpaid',
  'paused',
  'canceled',
] as const;
export type StripeSubscriptionStatus = (typeof STRIPE_SUBSCRIPTION_STATUSES)[number];

/** What Settle exposes (entitlements, console): Stripe's status with `cancel_at_period_end` folded in. */
export const SUBSCRIPTION_STATUSES = ['incomplete', 'active', 'cancel_at_period_end', 'past_due', 'paused', 'canceled'] as const;
export type SubscriptionStatus = (typeof SUBSCRIPTION_STATUSES)[number];

/** Statuses that keep the plan: paid up, paid until the period ends, or in dunning. */
export const ENTITLING_SUBSCRIPTION_STATUSES: readonly SubscriptionStatus[] = ['active', 'cancel_at_period_end', 'past_due'];

/** Stripe ends these for good: nothing moves a subscription out of them. */
const TERMINAL_STRIPE_STATUSES: readonly StripeSubscriptionStatus[] = ['canceled', 'incomplete_expired'];

/**
 * Same-second tie-break between two facts with the same period end: later in the lifecycle
 * wins. Stripe timestamps are whole seconds, so ties are common within one journey.
 */
export const SUBSCRIPTION_STATUS_RANK: Readonly<Record<SubscriptionStatus, number>> = {
  incomplete: 0,
  active: 1,
  cancel_at_period_end: 2,
  paused: 3,
  past_due: 4,
  canceled: 5,
};

/** What one Stripe subscription object (or the first paid invoice) says about the subscription. */
export type SubscriptionFacts = {
  subscriptionId: string;
  customerId: string | null;
  stripeStatus: StripeSubscriptionStatus;
  /** `cancel_at_period_end`, or a `cancel_at` set (newer API versions schedule cancellation that way). */
  cancelAtPeriodEnd: boolean;
  /** Epoch seconds; on the subscription's items in current API versions, top-level in older ones. */
  currentPeriodEnd: number | null;
  priceId: string | null;
  /** From the subscription's metadata (`subscription_data.metadata` at Checkout). */
  orderId: string | null;
  userId: string | null;
};

/** The part of a subscription the state machine decides on. */
export type SubscriptionState = {
  id: string;
  stripeStatus: StripeSubscriptionStatus;
  status: SubscriptionStatus;
  cancelAtPeriodEnd: boolean;
  currentPeriodEnd: number | null;
  /** Stripe `created` of the event that set this state (epoch seconds). */
  statusAt: number;
};

export type SubscriptionDecision = {
  next: SubscriptionState;
  /** Whether `next` differs from the current state. */
  changed: boolean;
  /** The fact is older than what set the current state, so it was ignored. */
  stale: boolean;
};

export function isStripeSubscriptionStatus(value: unknown): value is StripeSubscriptionStatus {
  return typeof value === 'string' && (STRIPE_SUBSCRIPTION_STATUSES as readonly string[]).includes(value);
}

export function isSubscriptionStatus(value: unknown): value is SubscriptionStatus {
  return typeof value === 'string' && (SUBSCRIPTION_STATUSES as readonly string[]).includes(value);
}

/** The exposed status of a Stripe status and `cancel_at_period_end`. */
export function subscriptionStatusOf(stripeStatus: StripeSubscriptionStatus, cancelAtPeriodEnd: boolean): SubscriptionStatus {
  switch (stripeStatus) {
    case 'canceled':
    case 'incomplete_expired':
      return 'canceled';
    case 'past_due':
    case 'unpaid':
      return 'past_due';
    case 'trialing':
    case 'active':
      return cancelAtPeriodEnd ? 'cancel_at_period_end' : 'active';
    case 'incomplete':
      return 'incomplete';
    case 'paused':
      return 'paused';
  }
}

export function isEntitling(status: SubscriptionStatus): boolean {
  return ENTITLING_SUBSCRIPTION_STATUSES.includes(status);
}

type Versioned = Pick<SubscriptionState, 'stripeStatus' | 'cancelAtPeriodEnd' | 'currentPeriodEnd' | 'statusAt'>;

/**
 * The total order on subscription facts: terminal first (a canceled subscription stays
 * canceled, and wins a tie), then Stripe's time, then the period end (a renewal moves it on),
 * then the status rank, then the remaining fields so that no two different states compare equal.
 * Keeping the greatest fact makes the result independent of delivery order and duplicates.
 */
function versionKey(s: Versioned): number[] {
  const status = subscriptionStatusOf(s.stripeStatus, s.cancelAtPeriodEnd);
  return [
    TERMINAL_STRIPE_STATUSES.includes(s.stripeStatus) ? 1 : 0,
    s.statusAt,
    s.currentPeriodEnd ?? -1,
    SUBSCRIPTION_STATUS_RANK[status],
    STRIPE_SUBSCRIPTION_STATUSES.indexOf(s.stripeStatus),
    s.cancelAtPeriodEnd ? 1 : 0,
  ];
}

export function compareSubscriptionVersions(a: Versioned, b: Versioned): number {
  const ka = versionKey(a);
  const kb = versionKey(b);
  for (let i = 0; i < ka.length; i++) {
    const d = ka[i]! - kb[i]!;
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * Decide what a subscription fact from an event created at `at` does to the known state: it
 * replaces it only when it is a later version (see `compareSubscriptionVersions`), so an older
 * `customer.subscription.updated` delivered after `deleted` never resurrects the subscription.
 */
export function decideSubscription(current: SubscriptionState | null, facts: SubscriptionFacts, at: number): SubscriptionDecision {
  const candidate: SubscriptionState = {
    id: facts.subscriptionId,
    stripeStatus: facts.stripeStatus,
    status: subscriptionStatusOf(facts.stripeStatus, facts.cancelAtPeriodEnd),
    cancelAtPeriodEnd: facts.cancelAtPeriodEnd,
    currentPeriodEnd: facts.currentPeriodEnd,
    statusAt: at,
  };
  if (!current) return { next: candidate, changed: true, stale: false };
  const verdict = compareSubscriptionVersions(candidate, current);
  if (verdict < 0) return { next: current, changed: false, stale: true };
  if (verdict === 0) return { next: current, changed: false, stale: false };
  return { next: candidate, changed: true, stale: false };
}

/** A subscription as the entitlement sees it. */
export type PlanSubscription = {
  plan: string | null;
  status: SubscriptionStatus;
  currentPeriodEnd: number | null;
  statusAt: number;
  /** Whether the order that started it is confirmed (paid, not refunded or charged back). */
  confirmed: boolean;
};

export type PlanEntitlement = { plan: string | null; subscriptionStatus: SubscriptionStatus; planPeriodEnd: number | null };

/**
 * What a user's subscriptions entitle them to. Only subscriptions whose order is confirmed
 * count: Stripe calling a subscription active is not Settle's confirmation of its payment.
 * The plan is that of the most recently changed entitling subscription (active, cancel at
 * period end, past due), with its status and period end; with none, no plan and the status of
 * the most recent one. Null when no subscription counts (the entitlement is left alone).
 */
export function planEntitlementOf(subscriptions: readonly PlanSubscription[]): PlanEntitlement | null {
  const newestFirst = subscriptions.filter((s) => s.confirmed).sort((a, b) => b.statusAt - a.statusAt || SUBSCRIPTION_STATUS_RANK[a.status] - SUBSCRIPTION_STATUS_RANK[b.status]);
  const entitling = newestFirst.find((s) => isEntitling(s.status) && s.plan !== null);
  if (entitling) return { plan: entitling.plan, subscriptionStatus: entitling.status, planPeriodEnd: entitling.currentPeriodEnd };
  const newest = newestFirst[0];
  return newest ? { plan: null, subscriptionStatus: newest.status, planPeriodEnd: null } : null;
}
