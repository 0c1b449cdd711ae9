import type { StripeSubscriptionStatus, SubscriptionStatus } from './subscription-state.js';

/**
 * How a subscription that stopped being paid for comes back (`billing.resume`). An `unpaid` or
 * `past_due` subscription is brought back by paying its latest open invoice (Stripe then makes it
 * `active`); a `paused` one (a trial that ended without a payment method) by resuming it at
 * Stripe and paying the invoice that resumption makes. Pure: Stripe's answers come in as data.
 */
export type ResumePath = 'pay_latest_invoice' | 'resume';

/** Why there is nothing to resume, for the caller to read; every exposed status has its answer. */
const RESUME_BY_STATUS: Readonly<Record<SubscriptionStatus, { path: ResumePath } | { refused: string }>> = {
  trialing: { refused: 'it is in its free trial; nothing is owed' },
  active: { refused: 'it is active; nothing is owed' },
  cancel_at_period_end: { refused: 'it is active until its period ends; to keep it, undo the cancellation in billing.portal' },
  past_due: { path: 'pay_latest_invoice' },
  unpaid: { path: 'pay_latest_invoice' },
  paused: { path: 'resume' },
  incomplete: { refused: 'its first payment is not complete; finish the checkout that started it' },
  canceled: { refused: 'it has ended; start a new one with checkout.create' },
};

/** What `billing.resume` does for a subscription in this (Settle's) status, or why it refuses. */
export function resumePathFor(status: SubscriptionStatus): { ok: true; path: ResumePath } | { ok: false; reason: string } {
  const r = RESUME_BY_STATUS[status];
  return 'path' in r ? { ok: true, path: r.path } : { ok: false, reason: r.refused };
}

/** Whether `billing.resume` is the way back for a subscription in this status (and `checkout.create` should say so). */
export function isResumable(status: string): boolean {
  return status in RESUME_BY_STATUS && resumePathFor(status as SubscriptionStatus).ok;
}

/** A subscription's latest invoice as Stripe has it now. */
export type LatestInvoiceReading = {
  id: string;
  status: string | null;
  hostedInvoiceUrl: string | null;
  amountDue: number;
  currency: string;
};

/**
 * The next step, from the subscription as Stripe has it now (Settle's copy may be behind):
 *  - `pay`: hand the customer the latest invoice's hosted page;
 *  - `resume`: ask Stripe to resume the paused subscription (no resumption invoice is open yet);
 *  - `settled`: Stripe already has it running (`active`, `trialing`): nothing is owed, and Settle
 *    hears of it by its webhooks;
 *  - `refused`: nothing the customer can pay brings it back here.
 */
export type ResumeStep =
  | { kind: 'pay'; invoice: LatestInvoiceReading & { hostedInvoiceUrl: string } }
  | { kind: 'resume' }
  | { kind: 'settled'; status: string }
  | { kind: 'refused'; reason: string };

export function resumeStepOf(stripe: { status: StripeSubscriptionStatus | string; latestInvoice: LatestInvoiceReading | null }): ResumeStep {
  const invoice = stripe.latestInvoice;
  const payable = invoice && invoice.status === 'open' && invoice.hostedInvoiceUrl ? { ...invoice, hostedInvoiceUrl: invoice.hostedInvoiceUrl } : null;
  switch (stripe.status) {
    case 'paused':
      // A resumption already asked for (a double click, a customer back later) is paid, not made again.
      return payable ? { kind: 'pay', invoice: payable } : { kind: 'resume' };
    case 'unpaid':
    case 'past_due':
      if (payable) return { kind: 'pay', invoice: payable };
      return {
        kind: 'refused',
        reason: invoice
          ? `its latest invoice ${invoice.id} is ${invoice.status ?? 'in no status'}, not open: there is nothing to pay here; see billing.portal`
          : 'Stripe names no latest invoice to pay; see billing.portal',
      };
    case 'active':
    case 'trialing':
      return { kind: 'settled', status: stripe.status };
    case 'canceled':
    case 'incomplete_expired':
      return { kind: 'refused', reason: 'it has ended at Stripe; start a new one with checkout.create' };
    case 'incomplete':
      return { kind: 'refused', reason: 'its first payment is not complete; finish the checkout that started it' };
    default:
      return { kind: 'refused', reason: `Stripe says it is ${stripe.status}, which billing.resume does not handle` };
  }
}
