import { findStripeCustomer } from '@settle/db';
import type { AppDeps } from '../app-deps.js';

export type BillingPortalResult =
  | { ok: true; url: string }
  | { ok: false; code: 'NOT_FOUND' | 'PRECONDITION' | 'UNAVAILABLE'; message: string };

/**
 * A Stripe customer portal session for a user's Stripe customer, where they change plan, update
 * their card, see invoices or cancel. Whatever they do there reaches Settle as webhooks.
 */
export async function createBillingPortalSession(deps: AppDeps, userId: string): Promise<BillingPortalResult> {
  if (!deps.stripe) return { ok: false, code: 'PRECONDITION', message: 'Stripe is not configured on this server' };
  const customer = await findStripeCustomer(deps.database.db, userId);
  if (!customer) return { ok: false, code: 'NOT_FOUND', message: 'you have no Stripe customer yet: nothing has been bought' };
  try {
    const session = await deps.stripe.billingPortal.sessions.create({
      customer,
      return_url: deps.env.BILLING_PORTAL_RETURN_URL ?? deps.env.PUBLIC_URL,
    });
    return { ok: true, url: session.url };
  } catch (err) {
    // Stripe down or refusing: the caller can try again (a 500 would say Settle broke).
    deps.logger.warn({ userId, err: err instanceof Error ? err.message : String(err) }, 'billing portal session creation failed');
    return { ok: false, code: 'UNAVAILABLE', message: 'payment provider unavailable; try again' };
  }
}
