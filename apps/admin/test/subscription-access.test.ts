/**
 * What the console says a subscription gives against the entitlement's own rule: for every status,
 * order status, money taken back or not, and plan or none, payments-core's grantsPlan decides (as
 * the API does for `grantsPlan`), and the console's words must claim a plan exactly when it grants one.
 */
import { describe, expect, it } from 'vitest';
import { isPaid, ORDER_STATUSES } from '../../../packages/payments-core/src/order-state.js';
import { grantsPlan, SUBSCRIPTION_STATUSES } from '../../../packages/payments-core/src/subscription-state.js';
import { planWithheldReason, subscriptionAccessHint } from '../src/lib/status.js';

/** Whether the words tell the operator the customer has the plan. */
const claimsPlan = (hint: string) => !/no plan|plan taken/.test(hint);

describe('the console claims a plan exactly when the entitlement grants it', () => {
  for (const status of SUBSCRIPTION_STATUSES) {
    it(status, () => {
      for (const orderStatus of [...ORDER_STATUSES, null]) {
        for (const paymentTakenBack of [false, true]) {
          for (const plan of ['hobby', null]) {
            const confirmed = orderStatus !== null && isPaid(orderStatus);
            // As the API's toPlanSubscription: an order refunded or charged back takes the money back too.
            const moneyTakenBack = paymentTakenBack || orderStatus === 'refunded' || orderStatus === 'charged_back';
            const grants = grantsPlan({ plan, status, stripeStatus: 'active', currentPeriodEnd: null, cancelAt: null, statusAt: 0, startedAt: 0, confirmed, moneyTakenBack, moneyPaid: true });
            const s = { status, plan, grantsPlan: grants, moneyTakenBack, orderConfirmed: confirmed, orderStatus };
            const hint = subscriptionAccessHint(s);
            expect({ orderStatus, paymentTakenBack, plan, hint, claims: claimsPlan(hint) }).toEqual({ orderStatus, paymentTakenBack, plan, hint, claims: grants });
          }
        }
      }
    });
  }

  it('says why an active plan is not granted: its order refunded, parked for review, or a payment that went back', () => {
    const active = { status: 'active', plan: 'hobby', grantsPlan: false, moneyTakenBack: true, orderConfirmed: true };
    expect(subscriptionAccessHint({ ...active, orderStatus: 'refunded' })).toBe('Its order is refunded: plan taken');
    expect(subscriptionAccessHint({ ...active, orderStatus: 'charged_back' })).toBe('Its order is charged back: plan taken');
    expect(subscriptionAccessHint({ ...active, orderStatus: 'succeeded' })).toBe('A payment was charged back or refunded in full: plan taken');
    expect(subscriptionAccessHint({ ...active, moneyTakenBack: false, orderConfirmed: false, orderStatus: 'needs_review' }))
      .toBe('Its order is parked for review: no plan until an admin confirms it');
    expect(planWithheldReason({ ...active, grantsPlan: true, moneyTakenBack: false, orderStatus: 'succeeded' })).toBeNull();
  });
});
