import { findUserSubscriptionToPlan } from '@settle/db';
import { isSubscriptionStatus, resumePathFor, resumeStepOf, type LatestInvoiceReading, type ResumeStep } from '@settle/payments-core';
import type Stripe from 'stripe';
import type { AppDeps } from '../app-deps.js';
import { errorMessage } from '../lib/errors.js';

/**
 * `url`: the hosted invoice page where the customer pays what is owed, or null when nothing is
 * (Stripe already has the subscription running, or the resumption was paid at once). `status`:
 * the subscription's status at Stripe after the call, which Settle learns by its webhooks.
 */
export type ResumeResult =
  | { ok: true; subscriptionId: string; status: string; url: string | null; invoice: { id: string; amountDue: number; currency: string } | null }
  | { ok: false; code: 'NOT_FOUND' | 'PRECONDITION' | 'UNAVAILABLE'; message: string };

const UNAVAILABLE = { ok: false, code: 'UNAVAILABLE', message: 'payment provider unavailable; try again' } as const;

function latestInvoiceOf(subscription: Stripe.Subscription): LatestInvoiceReading | null {
  const invoice = subscription.latest_invoice;
  if (!invoice || typeof invoice === 'string' || !invoice.id) return null;
  return { id: invoice.id, status: invoice.status, hostedInvoiceUrl: invoice.hosted_invoice_url ?? null, amountDue: invoice.amount_due, currency: invoice.currency };
}

/**
 * Bring back the caller's subscription to `plan` that stopped being paid for (`billing.resume`):
 * an `unpaid` or `past_due` one by its latest open invoice's hosted page; a `paused` one by
 * resuming it at Stripe (billing cycle anchored now) and the hosted page of the invoice that
 * makes. Stripe's word is read fresh: Settle's copy only says which subscription and whether to
 * ask. Nothing is written here; the payment reaches Settle as webhooks (invoice.paid,
 * customer.subscription.updated), which give the plan back.
 */
export async function resumeSubscription(deps: AppDeps, userId: string, plan: string): Promise<ResumeResult> {
  const stripe = deps.stripe;
  if (!stripe) return { ok: false, code: 'PRECONDITION', message: 'Stripe is not configured on this server' };
  const row = await findUserSubscriptionToPlan(deps.database.db, { userId, plan });
  if (!row) return { ok: false, code: 'NOT_FOUND', message: `you have no ${plan} subscription` };
  const status = row.status;
  const path = isSubscriptionStatus(status) ? resumePathFor(status) : { ok: false as const, reason: 'its status is not one Settle knows' };
  if (!path.ok) return { ok: false, code: 'PRECONDITION', message: `your ${plan} subscription (${row.id}) is ${status}: ${path.reason}` };

  const asked = (what: string, err: unknown) => {
    // Stripe down or refusing: the caller can try again (a 500 would say Settle broke); nothing was changed here.
    deps.logger.warn({ userId, subscriptionId: row.id, err: errorMessage(err) }, `billing.resume: ${what} failed`);
    return UNAVAILABLE;
  };
  let step: ResumeStep;
  let stripeStatus: string;
  try {
    const current = await stripe.subscriptions.retrieve(row.id, { expand: ['latest_invoice'] });
    stripeStatus = current.status;
    step = resumeStepOf({ status: current.status, latestInvoice: latestInvoiceOf(current) });
  } catch (err) {
    return asked('reading the subscription from Stripe', err);
  }
  if (step.kind === 'resume') {
    let resumed: Stripe.Subscription;
    try {
      resumed = await stripe.subscriptions.resume(
        row.id,
        // The SDK's (and API version's) shape of `billing_cycle_anchor: now`: a new period starts
        // today, billed on the resumption invoice, rather than prorating up to the old anchor.
        { billing_cycle_anchor: { type: 'now' }, expand: ['latest_invoice'] },
        // One resumption per pause: a double click (or a retry of a lost answer) gets the first
        // one's answer, not a second invoice. A later pause (another status time) is another key.
        { idempotencyKey: `settle-resume-${row.id}-${Math.floor(new Date(row.status_stripe_at).getTime() / 1000)}` },
      );
    } catch (err) {
      return asked('resuming the subscription at Stripe', err);
    }
    stripeStatus = resumed.status;
    step = resumeStepOf({ status: resumed.status, latestInvoice: latestInvoiceOf(resumed) });
    // Resumed but neither running nor owing an open invoice: not something a retry of ours would fix.
    if (step.kind === 'resume') step = { kind: 'refused', reason: `Stripe resumed it but it is still ${resumed.status} with no open invoice to pay; see billing.portal` };
    deps.logger.info({ userId, subscriptionId: row.id, stripeStatus: resumed.status }, 'subscription resumed at Stripe');
  }
  switch (step.kind) {
    case 'pay': {
      const { invoice } = step;
      return { ok: true, subscriptionId: row.id, status: stripeStatus, url: invoice.hostedInvoiceUrl, invoice: { id: invoice.id, amountDue: invoice.amountDue, currency: invoice.currency } };
    }
    case 'settled':
      return { ok: true, subscriptionId: row.id, status: step.status, url: null, invoice: null };
    case 'refused':
      return { ok: false, code: 'PRECONDITION', message: `your ${plan} subscription (${row.id}) cannot be resumed here: ${step.reason}` };
  }
}
