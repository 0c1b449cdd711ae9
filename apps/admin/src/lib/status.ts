import type { RouterOutputs } from '../trpc.js';

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
  needs_review: { label: 'Needs review', tone: 'bad', paid: false, hint: 'A business check failed; an admin decides' },
};

export const ORDER_STATUSES = Object.keys(ORDER_STATUS_META) as OrderStatus[];

/** Statuses that take the money back: moving a paid order there revokes its grant. */
const TAKES_BACK: OrderStatus[] = ['refunded', 'charged_back', 'canceled', 'failed'];

/** What an override from one status to another will do, in an operator's words (mirrors payments-core's decideOverride). */
export function overrideConsequences(from: OrderStatus, to: OrderStatus): string[] {
  const out = [`The order's status changes from “${ORDER_STATUS_META[from].label}” to “${ORDER_STATUS_META[to].label}”.`];
  if (!ORDER_STATUS_META[from].paid && ORDER_STATUS_META[to].paid) out.push('The customer is granted what the product gives (credits or plan), once.');
  if (ORDER_STATUS_META[from].paid && TAKES_BACK.includes(to)) out.push("The customer's grant is revoked (credits taken back, plan ended).");
  out.push('Nothing is sent to Stripe: no charge, capture or refund happens.');
  out.push('Your name, the reason and the time are written to the order timeline and the audit log.');
  return out;
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

/** Settle's subscription statuses (payments-core's `SubscriptionStatus`), with what each means for access. */
export const SUBSCRIPTION_STATUS_META: Record<SubscriptionStatus, { label: string; tone: Tone; hint: string }> = {
  trialing: { label: 'Trialing', tone: 'info', hint: 'In a free trial: plan granted, nothing paid yet' },
  active: { label: 'Active', tone: 'good', hint: 'Paid up: plan granted' },
  cancel_at_period_end: { label: 'Cancels at period end', tone: 'warn', hint: 'Paid until the period ends, then canceled' },
  past_due: { label: 'Past due', tone: 'warn', hint: 'A renewal failed; Stripe is retrying, the plan is kept meanwhile' },
  unpaid: { label: 'Unpaid', tone: 'bad', hint: "Stripe's retries are exhausted: plan taken" },
  paused: { label: 'Paused', tone: 'neutral', hint: 'Paused (trial ended without a payment method): plan taken' },
  incomplete: { label: 'Incomplete', tone: 'neutral', hint: 'The first invoice is not paid yet: no plan' },
  canceled: { label: 'Canceled', tone: 'neutral', hint: 'Ended: plan taken' },
};
export const SUBSCRIPTION_STATUSES = Object.keys(SUBSCRIPTION_STATUS_META) as SubscriptionStatus[];

/** How the console shows a subscription status (one it does not know yet is shown as is). */
export function subscriptionStatusMeta(status: string): { label: string; tone: Tone; hint: string } {
  return SUBSCRIPTION_STATUS_META[status as SubscriptionStatus] ?? { label: status, tone: 'neutral', hint: '' };
}

/** What a subscription gives the customer now: its status's meaning, unless a payment of it went back. */
export function subscriptionAccessHint(s: { status: string; moneyTakenBack: boolean }): string {
  return s.moneyTakenBack ? 'A payment was charged back or refunded in full: plan taken' : subscriptionStatusMeta(s.status).hint;
}
