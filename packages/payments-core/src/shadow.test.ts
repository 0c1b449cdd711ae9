import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { GrantSpec } from './decision.js';
import type { OrderState } from './order-state.js';
import type { PaymentCommand } from './payment-command.js';
import { decideShadow, type DisagreementKind } from './shadow.js';

const GRANT: GrantSpec = { kind: 'credits', credits: 100, partialRefund: 'proportional' };
const order = (handler: OrderState['handler']): OrderState => ({
  id: 'ord_1', userId: 'usr_1', status: 'pending', handler, amount: 2000, currency: 'usd',
  checkoutSessionId: 'cs_1', paymentIntentId: null, statusAt: null, paidAt: null, amountRefunded: 0,
  disputeId: null, disputeStatus: null, statusBeforeDispute: null, reviewReason: null, failureReason: null, refunds: [],
});

const completed = (paymentStatus: 'paid' | 'unpaid', amount = 2000): PaymentCommand => ({
  type: 'checkout_completed', checkoutSessionId: 'cs_1', paymentIntentId: 'pi_1', paymentStatus, amount, currency: 'usd',
});
const created: PaymentCommand = { type: 'payment_created', paymentIntentId: 'pi_1' };
const processing: PaymentCommand = { type: 'payment_processing', paymentIntentId: 'pi_1' };
const succeeded: PaymentCommand = { type: 'payment_succeeded', paymentIntentId: 'pi_1', amount: 2000, currency: 'usd' };
const failed: PaymentCommand = { type: 'payment_failed', paymentIntentId: 'pi_1', reason: 'insufficient_funds' };
const asyncSucceeded: PaymentCommand = { type: 'checkout_async_succeeded', checkoutSessionId: 'cs_1', paymentIntentId: 'pi_1' };

/** Folds commands through shadow mode, carrying both the legacy and the shadow order. */
function run(steps: [PaymentCommand, number][]) {
  let legacy = order('legacy');
  let shadow = order('new');
  const kinds: DisagreementKind[] = [];
  let legacyGrants = 0;
  for (const [command, at] of steps) {
    const s = decideShadow(legacy, shadow, command, { at, grant: GRANT });
    legacy = s.decision.next;
    shadow = s.shadow.next;
    legacyGrants += s.decision.effects.filter((e) => e.type === 'grant').length;
    if (s.disagreement) kinds.push(s.disagreement.kind);
  }
  return { legacy, shadow, kinds, legacyGrants };
}

const DAY = 86_400;

describe('decideShadow', () => {
  it.each([
    ['async success', [[completed('unpaid'), 1], [processing, 1], [succeeded, 3 * DAY], [asyncSucceeded, 3 * DAY]], ['legacy_confirms_unpaid_session'], 'succeeded'],
    ['async failure', [[completed('unpaid'), 1], [processing, 1], [failed, 3 * DAY]], ['legacy_confirms_unpaid_session', 'legacy_paid_new_failed'], 'failed'],
    ['amount mismatch', [[completed('paid', 1500), 1]], ['review_differs'], 'pending'],
  ] as const)('%s journey: records %j', (_, steps, kinds, shadowStatus) => {
    const r = run(steps as unknown as [PaymentCommand, number][]);
    expect(r.kinds).toEqual(kinds);
    expect(r.shadow.status).toBe(shadowStatus);
  });

  it('an underpaid order both handlers end up parking is one disagreement (legacy parks first), not two', () => {
    // Legacy parks on the Checkout completion; the new handler parks the same order when the
    // (same, short) payment arrives. From then on both hold it for review: they agree.
    const short: PaymentCommand = { type: 'payment_succeeded', paymentIntentId: 'pi_1', amount: 1500, currency: 'usd' };
    const r = run([[completed('paid', 1500), 1], [short, 2]]);
    expect([r.legacy.status, r.shadow.status]).toEqual(['needs_review', 'needs_review']);
    expect(r.kinds).toEqual(['review_differs']);
  });

  it('a plan’s trial (nothing due) is no disagreement, whichever of its Checkout completion and $0 first invoice comes first', () => {
    // Legacy starts the plan on the Checkout completion, the new handler on the $0 first invoice:
    // both grant it, without money, and neither is an async payment confirmed before it settled.
    const PLAN: GrantSpec = { kind: 'plan', plan: 'pro' };
    const trialCompleted: PaymentCommand = {
      type: 'checkout_completed', checkoutSessionId: 'cs_1', paymentIntentId: null, paymentStatus: 'no_payment_required', amount: 0, currency: 'usd', subscriptionId: 'sub_1',
    };
    const invoice = {
      invoiceId: 'in_1', number: 'INV-1', status: 'paid', hostedInvoiceUrl: null, invoicePdf: null, amountDue: 0, amountPaid: 0, currency: 'usd',
      subscriptionId: 'sub_1', billingReason: 'subscription_create', periodStart: 1, periodEnd: 14 * DAY, priceId: 'price_pro',
      paymentIntentId: null, chargeId: null, attemptCount: 0, createdAt: 1, finalizedAt: 1, paidAt: 1,
    };
    const firstInvoicePaid: PaymentCommand = { type: 'subscription_invoice_paid', subscriptionId: 'sub_1', billingReason: 'subscription_create', periodEnd: 14 * DAY, invoice };
    for (const steps of [[trialCompleted, firstInvoicePaid], [firstInvoicePaid, trialCompleted]]) {
      let legacy = order('legacy');
      let shadow = order('new');
      const kinds: DisagreementKind[] = [];
      for (const command of steps) {
        const s = decideShadow(legacy, shadow, command, { at: 1, grant: PLAN });
        [legacy, shadow] = [s.decision.next, s.shadow.next];
        if (s.disagreement) kinds.push(s.disagreement.kind);
      }
      expect([legacy.status, shadow.status]).toEqual(['succeeded', 'succeeded']);
      expect(kinds).toEqual([]);
    }
  });

  it('the disagreement carries both sides', () => {
    const s = decideShadow(order('legacy'), order('new'), completed('unpaid'), { at: 1, grant: GRANT });
    expect(s.disagreement).toEqual({
      kind: 'legacy_confirms_unpaid_session', legacyStatus: 'succeeded', newStatus: 'processing',
      legacyOutcome: 'applied', newOutcome: 'applied',
    });
  });

  it('card journey (declined, then paid): no disagreement in any order, both end succeeded, legacy grants once', () => {
    // The decline is older than the payment: delivered after the Checkout completion, it is not
    // money legacy counted that then failed.
    const steps: [PaymentCommand, number][] = [[created, 1], [failed, 1], [succeeded, 2], [completed('paid'), 2]];
    fc.assert(
      fc.property(
        fc.array(fc.nat(steps.length - 1), { maxLength: 6 }).chain((extra) => {
          const all = [0, 1, 2, 3, ...extra];
          return fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length });
        }),
        (indices) => {
          const r = run(indices.map((i) => steps[i]!));
          expect(r.kinds).toEqual([]);
          expect([r.legacy.status, r.shadow.status]).toEqual(['succeeded', 'succeeded']);
          expect(r.legacyGrants).toBe(1);
        },
      ),
      { numRuns: 300 },
    );
  });
});
