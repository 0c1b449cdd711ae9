import type { RouterOutputs } from '../trpc.js';
import { money } from './format.js';

export type OrderStatus = RouterOutputs['admin']['orders']['get']['order']['status'];

export type Tone = 'neutral' | 'info' | 'good' | 'warn' | 'bad';

/** Every order status with how the console shows it (the Record makes this total). */
export const ORDER_STATUS_META: Record<OrderStatus, { label: string; tone: Tone; paid: boolean; hint: string }> = {
  pending: { label: 'Pending', tone: 'neutral', paid: false, hint: 'Checkout session created, nothing paid yet' },
  processing: { label: 'Processing', tone: 'info', paid: false, hint: 'Async payment under way (SEPA, ACH, …)' },
  requires_action: { label: 'Requires action', tone: 'warn', paid: false, hint: 'The customer must authenticate or act' },
  failed: { label: 'Failed', tone: 'bad', paid: false, hint: 'Last attempt failed; the customer may still pay' },
  succeeded: { label: 'Succeeded', tone: 'good', paid: true, hint: 'Paid and granted' },
  canceled: { label: 'Canceled', tone: 'neutral', paid: false, hint: 'Session expired or intent canceled' },
  partially_refunded: { label: 'Partially refunded', tone: 'warn', paid: true, hint: 'Part of the payment was refunded' },
  refunded: { label: 'Refunded', tone: 'neutral', paid: true, hint: 'Fully refunded; grant revoked' },
  disputed: { label: 'Disputed', tone: 'bad', paid: true, hint: 'The customer opened a dispute' },
  charged_back: { label: 'Charged back', tone: 'bad', paid: true, hint: 'Dispute lost; grant revoked' },
  needs_review: { label: 'Needs review', tone: 'bad', paid: false, hint: 'Parked for an admin: a business check failed, or an admin parked it; only an admin moves it on' },
};

export const ORDER_STATUSES = Object.keys(ORDER_STATUS_META) as OrderStatus[];

/** Statuses that take the money back: an override there takes back whatever was granted (payments-core's decideOverride). */
const TAKES_BACK: readonly OrderStatus[] = ['refunded', 'charged_back', 'canceled', 'failed'];

/** What an order gives (the catalogue's grant for its product and quantity). */
export type GrantSpec = { kind: 'credits'; credits: number } | { kind: 'plan'; plan: string };

/** What an order's grant is and holds now: what the override dialog needs to say what moves. */
export type GrantHolding = {
  /** What the product gives for this order; null while unknown. */
  spec: GrantSpec | null;
  /** The grant given for this order, if any, with how much of it was taken back. */
  granted: { kind: 'credits'; credits: number; creditsRevoked: number } | { kind: 'plan'; plan: string; revoked: boolean } | null;
  /** What took (part of) the grant back, in words (“the chargeback”), when known. */
  takenBy: string | null;
};

const creditsWord = (n: number) => `${n} credit${n === 1 ? '' : 's'}`;
const what = (spec: GrantSpec | null) =>
  spec === null ? 'what the product gives (credits or plan)' : spec.kind === 'credits' ? creditsWord(spec.credits) : `the ${spec.plan} plan`;

/** The grant line of an override: `to` decides, as in payments-core's decideOverride, and what is held now says how much moves. */
function grantConsequence(from: OrderStatus, to: OrderStatus, h: GrantHolding): string {
  const g = h.granted;
  const by = h.takenBy ? ` by ${h.takenBy}` : '';
  if (to === 'succeeded') {
    if (g === null) return `The customer is granted ${what(h.spec)}, once.`;
    if (g.kind === 'credits') {
      return g.creditsRevoked > 0
        ? `The ${creditsWord(g.creditsRevoked)} taken${by} are given back: the customer holds all ${g.credits} of this order again.`
        : `The customer already holds the ${creditsWord(g.credits)} of this order: nothing more is given.`;
    }
    return g.revoked ? `The ${g.plan} plan taken${by} is given back.` : `The customer already has the ${g.plan} plan from this order: nothing more is given.`;
  }
  if (TAKES_BACK.includes(to)) {
    if (g === null) return 'Nothing was granted for this order, so nothing is taken back, and nothing is given.';
    if (g.kind === 'credits') {
      const held = Math.max(0, g.credits - g.creditsRevoked);
      return held > 0
        ? `The ${creditsWord(held)} still held from this order are taken back${held < g.credits ? ` (${g.creditsRevoked} were taken${by} already)` : ''}; nothing is given.`
        : `The ${creditsWord(g.credits)} of this order were taken back already${by}: nothing more moves.`;
    }
    return g.revoked ? `The ${g.plan} plan was taken back already${by}: nothing more moves.` : `The ${g.plan} plan is taken back (it ends now); nothing is given.`;
  }
  if (!ORDER_STATUS_META[from].paid && ORDER_STATUS_META[to].paid) {
    if (g === null) return `The customer is granted ${what(h.spec)}, once, as when a payment confirms.`;
    return "The customer's credits and plan stay as they are: this order's grant was given already, and what was taken of it stays taken.";
  }
  return "The customer's credits and plan stay as they are: nothing is given or taken back.";
}

/**
 * What an override from one status to another will do, in an operator's words: the grant moves by
 * where the order goes, not where it comes from (mirrors payments-core's decideOverride).
 */
export function overrideConsequences(
  from: OrderStatus,
  to: OrderStatus,
  holding: GrantHolding,
  /** What Stripe has reported refunded on the order (kept on it even while it waits for review). */
  refunded?: { amount: number; currency: string },
): string[] {
  const grants = to === 'succeeded' || (!ORDER_STATUS_META[from].paid && ORDER_STATUS_META[to].paid);
  return [
    `The order's status changes from “${ORDER_STATUS_META[from].label}” to “${ORDER_STATUS_META[to].label}”.`,
    grantConsequence(from, to, holding),
    ...(refunded && refunded.amount > 0 && to === 'partially_refunded'
      ? [`Stripe has reported ${money(refunded.amount, refunded.currency)} refunded on this order: the refunded share of the grant is taken back, as a refund would (by the product's partial-refund policy).`]
      : refunded && refunded.amount > 0 && grants
        ? [`Stripe has reported ${money(refunded.amount, refunded.currency)} refunded on this order: the grant does not take that refund into account (choose “Partially refunded” to take the refunded share back). Reconcile with Stripe first if unsure.`]
        : []),
    'Nothing is sent to Stripe: no charge, capture or refund happens.',
    'Your name, the reason and the time are written to the order timeline and the audit log.',
  ];
}

/**
 * The codes payments-core puts before an automatic park's reason (`RejectionCode`, “AMOUNT_MISMATCH: …”),
 * in an operator's words. An order parked by an admin's override has the admin's reason instead.
 */
const REVIEW_CHECKS: Record<string, string> = {
  ORDER_NOT_FOUND: 'no order for this payment',
  ALREADY_CONFIRMED: 'already confirmed',
  DUPLICATE_PAYMENT: 'duplicate payment',
  CURRENCY_MISMATCH: 'the currency paid is not the order’s',
  AMOUNT_MISMATCH: 'the amount paid is not the order’s',
  PAYMENT_INTENT_MISMATCH: 'paid through another PaymentIntent',
  PAID_AFTER_CANCELLATION: 'paid after the order was canceled',
  REFUND_EXCEEDS_PAYMENT: 'Stripe refunded more than the order’s price',
};

/** Why an order is in review: a business check that failed (its code and message), or an admin who parked it (their reason). */
export type ReviewOrigin = { by: 'check'; check: string; message: string } | { by: 'admin'; reason: string };

export function reviewOrigin(reviewReason: string): ReviewOrigin {
  const m = /^([A-Z_]+): (.*)$/s.exec(reviewReason);
  const check = m ? REVIEW_CHECKS[m[1]!] : undefined;
  return m && check ? { by: 'check', check, message: m[2]! } : { by: 'admin', reason: reviewReason };
}

/** Owned by payments-core (`InboxState`); reached here through the API's types. */
export type InboxState = RouterOutputs['admin']['events']['list']['items'][number]['state'];
/** The console's tab order. */
export const INBOX_STATES: readonly InboxState[] = ['pending', 'failed', 'dead', 'unmatched', 'processed', 'ignored'];
export const INBOX_STATE_META: Record<InboxState, { label: string; tone: Tone; hint: string }> = {
  pending: { label: 'Pending', tone: 'info', hint: 'Stored, waiting for a worker' },
  failed: { label: 'Failed', tone: 'warn', hint: 'Failed, will be retried with backoff' },
  dead: { label: 'Dead', tone: 'bad', hint: 'Out of retries: needs a fix and a replay' },
  unmatched: { label: 'Unmatched', tone: 'warn', hint: 'No order matched after retries' },
  processed: { label: 'Processed', tone: 'good', hint: 'Applied (or not relevant to the order)' },
  ignored: { label: 'Ignored', tone: 'neutral', hint: "About Stripe objects Settle did not create (another app on the account): settled at once, never retried" },
};

export type SubscriptionStatus = RouterOutputs['admin']['subscriptions']['list']['items'][number]['status'];

/**
 * Settle's subscription statuses (payments-core's `SubscriptionStatus`), with what each means for
 * access: `keepsPlan` as payments-core's `isEntitling` (its order confirmed and its money kept).
 */
export const SUBSCRIPTION_STATUS_META: Record<SubscriptionStatus, { label: string; tone: Tone; keepsPlan: boolean; hint: string }> = {
  trialing: { label: 'Trialing', tone: 'info', keepsPlan: true, hint: 'In a free trial: plan granted, nothing paid yet' },
  active: { label: 'Active', tone: 'good', keepsPlan: true, hint: 'Paid up: plan granted' },
  cancel_at_period_end: { label: 'Cancels at period end', tone: 'warn', keepsPlan: true, hint: 'Paid until the period ends, then canceled' },
  past_due: { label: 'Past due', tone: 'warn', keepsPlan: true, hint: 'A renewal failed; Stripe is retrying, the plan is kept meanwhile' },
  unpaid: { label: 'Unpaid', tone: 'bad', keepsPlan: false, hint: "Stripe's retries are exhausted: plan taken" },
  paused: { label: 'Paused', tone: 'neutral', keepsPlan: false, hint: 'Paused (trial ended without a payment method): plan taken' },
  incomplete: { label: 'Incomplete', tone: 'neutral', keepsPlan: false, hint: 'The first invoice is not paid yet: no plan' },
  canceled: { label: 'Canceled', tone: 'neutral', keepsPlan: false, hint: 'Ended: plan taken' },
};
export const SUBSCRIPTION_STATUSES = Object.keys(SUBSCRIPTION_STATUS_META) as SubscriptionStatus[];

/** How the console shows a subscription status (one it does not know yet is shown as is). */
export function subscriptionStatusMeta(status: string): { label: string; tone: Tone; keepsPlan: boolean; hint: string } {
  return SUBSCRIPTION_STATUS_META[status as SubscriptionStatus] ?? { label: status, tone: 'neutral', keepsPlan: false, hint: '' };
}

/** What the console needs to say whether a subscription grants its plan; the API decides `grantsPlan` by the entitlement's rule. */
export type SubscriptionAccess = { status: string; plan: string | null; grantsPlan: boolean; moneyTakenBack: boolean; orderConfirmed: boolean; orderStatus: string | null };

/**
 * Why a subscription gives no plan although its status would keep one, in words; null when it
 * grants its plan or its status already says it does not. The console must never claim a plan
 * the entitlement does not give: money that went back (a payment's, or its order's) or an order
 * not confirmed overrule the status.
 */
export function planWithheldReason(s: SubscriptionAccess): string | null {
  if (s.grantsPlan) return null;
  const order = s.orderStatus === null ? null : ORDER_STATUS_META[s.orderStatus as OrderStatus]?.label.toLowerCase() ?? s.orderStatus;
  if (s.moneyTakenBack) {
    return s.orderStatus === 'refunded' || s.orderStatus === 'charged_back'
      ? `Its order is ${order}: plan taken`
      : 'A payment was charged back or refunded in full: plan taken';
  }
  if (!subscriptionStatusMeta(s.status).keepsPlan) return null;
  if (!s.orderConfirmed) {
    if (s.orderStatus === 'needs_review') return 'Its order is parked for review: no plan until an admin confirms it';
    return order ? `Its order is ${order}, not confirmed: no plan` : 'No order of Settle’s started it: no plan';
  }
  return 'Its price gives no known plan: no plan';
}

/** What a subscription gives the customer now: its status's meaning, unless something overrules it (see `planWithheldReason`). */
export function subscriptionAccessHint(s: SubscriptionAccess): string {
  return planWithheldReason(s) ?? subscriptionStatusMeta(s.status).hint;
}
