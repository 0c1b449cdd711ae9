/**
 * A plan's free trial is given once per customer and plan. Stripe's own guidance (and common
 * SaaS practice) is one trial per customer per product; Settle's product here is the plan, which
 * several catalogue products may sell (monthly, yearly): a trial of one is a trial of the plan.
 * A trial of another plan is a different product and is still offered, so a customer can try a
 * higher tier. Pure: whether the customer had the plan before is the caller's lookup.
 */
export type TrialOffer =
  | { offered: true; days: number }
  /** The catalogue has a trial for the product, but this checkout is paid from day one. */
  | { offered: false; days: number; reason: 'plan_subscribed_before' };

/**
 * The trial a plan checkout asks Stripe for: the product's `trialDays`, unless the customer ever
 * had a subscription to the plan, in any status (a trial they canceled, one that ended unpaid, a
 * paid one, one whose first payment never completed). Null when the product has no trial.
 */
export function trialOfferFor(trialDays: number | null | undefined, hadPlanBefore: boolean): TrialOffer | null {
  if (!trialDays) return null;
  return hadPlanBefore ? { offered: false, days: trialDays, reason: 'plan_subscribed_before' } : { offered: true, days: trialDays };
}
