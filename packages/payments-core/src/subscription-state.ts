import type { InvoiceFacts } from './payment-command.js';

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
export const SUBSCRIPTION_STATUSES = [
  'trialing',
  'active',
  'cancel_at_period_end',
  'past_due',
  'unpaid',
  'paused',
  'incomplete',
  'canceled',
] as const;
export type SubscriptionStatus = (typeof SUBSCRIPTION_STATUSES)[number];

/**
 * Statuses that keep the plan: in a trial, paid up, paid until the period ends, or in dunning
 * while Stripe still retries. `unpaid` (retries exhausted), `paused`, `incomplete` and
 * `canceled` take it.
 */
export const ENTITLING_SUBSCRIPTION_STATUSES: readonly SubscriptionStatus[] = ['trialing', 'active', 'cancel_at_period_end', 'past_due'];

/**
 * Statuses a subscription can still leave (every one but `canceled`): news Settle missed may
 * give a plan back (an `unpaid` or `paused` one paid or resumed) as well as take it away, so the
 * reconciler asks Stripe about any of them whose period ended without news.
 */
export const OPEN_SUBSCRIPTION_STATUSES: readonly SubscriptionStatus[] = [...ENTITLING_SUBSCRIPTION_STATUSES, 'incomplete', 'unpaid', 'paused'];

/** Stripe ends these for good: nothing moves a subscription out of them. */
const TERMINAL_STRIPE_STATUSES: readonly StripeSubscriptionStatus[] = ['canceled', 'incomplete_expired'];

/**
 * Same-second tie-break between two facts with the same period end: later in the lifecycle
 * wins. Stripe timestamps are whole seconds, so ties are common within one journey.
 */
export const SUBSCRIPTION_STATUS_RANK: Readonly<Record<SubscriptionStatus, number>> = {
  incomplete: 0,
  trialing: 1,
  active: 2,
  cancel_at_period_end: 3,
  paused: 4,
  past_due: 5,
  unpaid: 6,
  canceled: 7,
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
  /**
   * Stripe's `cancel_at` (epoch seconds): when a scheduled cancellation ends the subscription. It
   * may fall before `currentPeriodEnd` (Stripe then ends it there, prorated). Absent: none.
   */
  cancelAt?: number | null;
  /** The price of the subscription's first item. */
  priceId: string | null;
  /**
   * Every item's price, in Stripe's order, when it names several (a plan and add-ons): the plan
   * follows the first one the catalogue knows; without one, `priceId`.
   */
  priceIds?: readonly string[];
  /** From the subscription's metadata (`subscription_data.metadata` at Checkout). */
  orderId: string | null;
  userId: string | null;
  /** Epoch seconds; set while a trial is scheduled or running. */
  trialEnd: number | null;
  latestInvoiceId: string | null;
  /**
   * Settle's inference, not a Stripe subscription object (see `firstInvoiceFacts`): it only
   * starts a subscription or completes an `incomplete` one, and gives way to Stripe's word.
   */
  inferred?: boolean;
};

/** The part of a subscription the state machine decides on. */
export type SubscriptionState = {
  id: string;
  stripeStatus: StripeSubscriptionStatus;
  status: SubscriptionStatus;
  cancelAtPeriodEnd: boolean;
  currentPeriodEnd: number | null;
  /** Stripe's `cancel_at` (epoch seconds), or null: see `effectivePeriodEnd`. */
  cancelAt: number | null;
  /** Stripe `created` of the event that set this state (epoch seconds). */
  statusAt: number;
  /** The item's price in the newest version (null: not told, e.g. an inline price). */
  priceId: string | null;
  /** The plan of the newest version whose price the catalogue knows. */
  plan: string | null;
  /** Stripe time of the fact that set `plan` (the latest known price wins whatever the arrival order). */
  planAt: number;
  /** The newest version's price when the catalogue does not know it: the subscription waits for review. */
  unknownPriceId: string | null;
  /** The status is Settle's inference from the first paid invoice, not yet confirmed by a subscription object. */
  inferred: boolean;
};

/** The catalogue's answer for a price: the plan it sells, or null when the price is not in the catalogue. */
export type PlanOfPrice = (priceId: string) => string | null;

/** The fields that only say when Stripe stated a fact, not what it stated. */
const STRIPE_CLOCKS: readonly (keyof SubscriptionState)[] = ['statusAt', 'planAt'];

export type SubscriptionDecision = {
  next: SubscriptionState;
  /** Whether `next` differs from the current state (to be written). */
  changed: boolean;
  /**
   * Whether it differs in anything but Stripe's clocks (`statusAt`, `planAt`): what a reader of the
   * subscription would see change. The same facts read again later (a reconciliation re-reading
   * Stripe) move only the clocks: written, but not a change anyone is told of.
   */
  moved: boolean;
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
      return 'past_due';
    case 'unpaid':
      return 'unpaid';
    case 'trialing':
      return cancelAtPeriodEnd ? 'cancel_at_period_end' : 'trialing';
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

/**
 * When the subscription ends or renews next, as known now: the period end, or Stripe's `cancel_at`
 * when that comes first (a cancellation scheduled before the period's end ends it there). What the
 * host sees as the plan's end, and when the reconciler expects news. A `cancel_at` in a later
 * period leaves this one to renew.
 */
export function effectivePeriodEnd(s: { currentPeriodEnd: number | null; cancelAt?: number | null | undefined }): number | null {
  if (s.cancelAt === null || s.cancelAt === undefined) return s.currentPeriodEnd;
  return s.currentPeriodEnd === null ? s.cancelAt : Math.min(s.cancelAt, s.currentPeriodEnd);
}

type Versioned = Pick<SubscriptionState, 'stripeStatus' | 'cancelAtPeriodEnd' | 'currentPeriodEnd' | 'statusAt' | 'priceId'> & { cancelAt?: number | null };

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
    s.cancelAt ?? -1,
  ];
}

export function compareSubscriptionVersions(a: Versioned, b: Versioned): number {
  const ka = versionKey(a);
  const kb = versionKey(b);
  for (let i = 0; i < ka.length; i++) {
    const d = ka[i]! - kb[i]!;
    if (d !== 0) return d;
  }
  // Two versions alike but for the price (a plan change within one second): any fixed order will do.
  return (a.priceId ?? '').localeCompare(b.priceId ?? '');
}

/**
 * The plan a fact says, when it says one: its price's plan in the catalogue. A fact with a
 * price the catalogue does not know, or without a price, says nothing about the plan.
 */
function planFact(priceId: string | null, at: number, planOfPrice: PlanOfPrice): { plan: string; planAt: number } | null {
  if (!priceId) return null;
  const plan = planOfPrice(priceId);
  return plan === null ? null : { plan, planAt: at };
}

/** The price a fact's plan follows: the first of its items' prices the catalogue knows, else its first item's. */
export function planPriceOf(facts: Pick<SubscriptionFacts, 'priceId' | 'priceIds'>, planOfPrice: PlanOfPrice): string | null {
  return facts.priceIds?.find((p) => planOfPrice(p) !== null) ?? facts.priceId;
}

/**
 * Whether a subscription's first invoice was started without money: nothing due, nothing paid by
 * card or by the customer's credit balance, no PaymentIntent (a trial, or a discount of 100%).
 */
export function nothingPaidOn(invoice: InvoiceFacts): boolean {
  return invoice.amountDue === 0 && invoice.amountPaid === 0 && invoice.paymentIntentId === null && (invoice.balanceApplied ?? 0) === 0;
}

/**
 * What a subscription's first paid invoice implies about it, for when Stripe's subscription
 * events are late or not subscribed to: started for the invoice's period, `trialing` when nothing
 * was paid (a trial is the common case; a 100% discount is `active`, which Stripe's subscription
 * object then says), else `active`. Inferred: see `SubscriptionFacts.inferred`.
 */
export function firstInvoiceFacts(invoice: InvoiceFacts, subscriptionId: string, owner: { orderId: string; userId: string }): SubscriptionFacts {
  const free = nothingPaidOn(invoice);
  return {
    subscriptionId,
    customerId: null,
    stripeStatus: free ? 'trialing' : 'active',
    cancelAtPeriodEnd: false,
    currentPeriodEnd: invoice.periodEnd,
    priceId: invoice.priceId,
    ...(invoice.priceIds ? { priceIds: invoice.priceIds } : {}),
    orderId: owner.orderId,
    userId: owner.userId,
    trialEnd: free ? invoice.periodEnd : null,
    latestInvoiceId: invoice.invoiceId,
    inferred: true,
  };
}

/**
 * Decide what a subscription fact from an event created at `at` does to the known state. The
 * status part is replaced only by a later version (see `compareSubscriptionVersions`), so an
 * older `customer.subscription.updated` delivered after `deleted` never resurrects the
 * subscription. The plan follows the newest fact whose price the catalogue knows, on its own
 * clock: a stale status fact can still carry the newest known plan, so the result is the same
 * in any delivery order. `initialPlan` (the plan of the product the order bought) stands until
 * a price says otherwise.
 */
export function decideSubscription(
  current: SubscriptionState | null,
  facts: SubscriptionFacts,
  at: number,
  planOfPrice: PlanOfPrice,
  initialPlan: string | null,
): SubscriptionDecision {
  const priceId = planPriceOf(facts, planOfPrice);
  const planned = planFact(priceId, at, planOfPrice);
  const unknownPriceId = priceId && planOfPrice(priceId) === null ? priceId : null;
  const candidate: SubscriptionState = {
    id: facts.subscriptionId,
    stripeStatus: facts.stripeStatus,
    status: subscriptionStatusOf(facts.stripeStatus, facts.cancelAtPeriodEnd),
    cancelAtPeriodEnd: facts.cancelAtPeriodEnd,
    currentPeriodEnd: facts.currentPeriodEnd,
    cancelAt: facts.cancelAt ?? null,
    statusAt: at,
    priceId: priceId ?? current?.priceId ?? null,
    plan: current?.plan ?? initialPlan,
    planAt: current?.planAt ?? 0,
    unknownPriceId,
    inferred: facts.inferred ?? false,
  };
  // Stripe's own word replaces an inference even when it is older, so the result is the same in
  // any delivery order: a $0 first invoice is inferred `trialing`, but a coupon's subscription is
  // `active`, and its `customer.subscription.created` is often a second older than the invoice.
  // Except `incomplete`, which the paid invoice has already moved past.
  const givesWay = current?.inferred === true && !candidate.inferred && candidate.stripeStatus !== 'incomplete';
  // An inference's status only ever starts a subscription or completes an incomplete one: what
  // Stripe's subscription objects said stands. Its price still counts for the plan, on the plan's clock.
  const overruled = candidate.inferred && current !== null && current.stripeStatus !== 'incomplete';
  const verdict = !current || givesWay ? 1 : overruled ? -1 : compareSubscriptionVersions(candidate, current);
  const base = verdict > 0 ? candidate : current!;
  // Later known price wins; at the same second the larger plan name, so the order never matters.
  const takesPlan = planned !== null && (
    current === null || planned.planAt > current.planAt || (planned.planAt === current.planAt && planned.plan > (current.plan ?? ''))
  );
  const next: SubscriptionState = takesPlan ? { ...base, plan: planned.plan, planAt: planned.planAt } : base;
  const differs = (keys: (keyof SubscriptionState)[]) => current === null || keys.some((k) => next[k] !== current[k]);
  const keys = Object.keys(next) as (keyof SubscriptionState)[];
  const changed = differs(keys);
  const moved = differs(keys.filter((k) => !STRIPE_CLOCKS.includes(k)));
  return { next: changed ? next : current!, changed, moved, stale: verdict < 0 && !changed };
}

/** A subscription as the entitlement sees it. */
export type PlanSubscription = {
  plan: string | null;
  status: SubscriptionStatus;
  /** Stripe's own status: a trial whose cancellation is scheduled shows `cancel_at_period_end` but is still `trialing`. */
  stripeStatus: StripeSubscriptionStatus;
  currentPeriodEnd: number | null;
  /** Stripe's `cancel_at`, or null: the plan ends there when that is before the period end. */
  cancelAt: number | null;
  statusAt: number;
  /** When the purchase that started it was made (its order's creation; any clock, compared only with each other's). */
  startedAt: number;
  /** Whether the order that started it is confirmed (paid, not refunded or charged back). */
  confirmed: boolean;
  /** Whether a payment of this subscription was charged back or refunded in full (see `isMoneyTakenBack`), or its order was. */
  moneyTakenBack: boolean;
  /** Whether money ever paid one of its invoices (a trial's $0 first invoice is none). */
  moneyPaid: boolean;
};

export type PlanEntitlement = { plan: string | null; subscriptionStatus: SubscriptionStatus; planPeriodEnd: number | null };

/**
 * Whether a subscription entitles its user to its plan: its order is confirmed, its status gives
 * access, it has a plan, and none of its money went back. The one rule behind `planEntitlementOf`
 * and what the console says a subscription grants.
 */
export function grantsPlan(s: PlanSubscription): boolean {
  return s.confirmed && isEntitling(s.status) && s.plan !== null && !s.moneyTakenBack;
}

/**
 * What a user's subscriptions entitle them to. Only subscriptions whose order is confirmed
 * entitle: Stripe calling a subscription active is not Settle's confirmation of its payment.
 *
 * The plan is that of an entitling subscription (confirmed; trialing, active, cancel at period
 * end or past due; none of its payments charged back or refunded in full), with its status and
 * period end. A user paying for two plans at once gets the one bought last, whichever renews or
 * changes: the choice must not follow the last change, or the plan would swap with each renewal.
 * A plan being paid for comes before a free trial of another, whenever the trial began, and
 * before a trial that ended unpaid and is in dunning.
 *
 * With none entitling: no plan, and the status of the subscription changed most recently, confirmed
 * or not (an `incomplete` first payment is reported as such; a subscription whose order an admin
 * parked ends with Stripe's cancellation like any other). Null only without subscriptions: the
 * entitlement is then left to what one-time grants gave.
 */
export function planEntitlementOf(subscriptions: readonly PlanSubscription[]): PlanEntitlement | null {
  // A plan being paid for outranks a free trial of another: a trial started later never hides what
  // is paid, nor does one the customer has since set to cancel at its end (Stripe still says
  // trialing), nor one that ended with its first charge failing (past due, nothing ever paid).
  const trial = (s: PlanSubscription) => (s.stripeStatus === 'trialing' || (s.stripeStatus === 'past_due' && !s.moneyPaid) ? 1 : 0);
  const entitling = subscriptions
    .filter(grantsPlan)
    .sort((a, b) => trial(a) - trial(b) || b.startedAt - a.startedAt || b.statusAt - a.statusAt)[0];
  if (entitling) return { plan: entitling.plan, subscriptionStatus: entitling.status, planPeriodEnd: effectivePeriodEnd(entitling) };
  const newest = [...subscriptions].sort((a, b) => b.statusAt - a.statusAt || SUBSCRIPTION_STATUS_RANK[a.status] - SUBSCRIPTION_STATUS_RANK[b.status])[0];
  return newest ? { plan: null, subscriptionStatus: newest.status, planPeriodEnd: null } : null;
}
