import { describe, expect, it } from 'vitest';
import { isMoneyTakenBack, mergeSubscriptionPayment, type SubscriptionPayment, type SubscriptionPaymentChange } from './subscription-payment.js';

const PAID: SubscriptionPayment = {
  invoiceId: 'in_2', subscriptionId: 'sub_1', billingReason: 'subscription_cycle', status: 'paid', number: null, hostedInvoiceUrl: null, invoicePdf: null,
  amountDue: 999, amountPaid: 999, currency: 'usd', periodStart: 100, periodEnd: 200, priceId: 'price_hobby', paymentIntentId: 'pi_2', chargeId: 'ch_2',
  amountRefunded: 0, refunds: [], disputeId: null, disputeStatus: null, attemptCount: 1, createdAt: 100, paidAt: 100,
};
const refund = (status: 'pending' | 'succeeded' | 'failed' | 'canceled', at: number, amount = 999): SubscriptionPaymentChange => ({ kind: 'refund', refundId: 're_1', amount, status, at });
const charged = (amountRefunded: number, at: number): SubscriptionPaymentChange => ({ kind: 'refunded', amountRefunded, at });
const apply = (changes: SubscriptionPaymentChange[]) => changes.reduce(mergeSubscriptionPayment, PAID);

describe('a subscription payment\'s refunds', () => {
  it('a full refund takes the money back; its failure gives it back, once', () => {
    const refunded = apply([refund('pending', 150), charged(999, 150)]);
    expect(isMoneyTakenBack(refunded)).toBe(true);
    const failed = apply([refund('pending', 150), charged(999, 150), refund('failed', 170)]);
    expect(failed).toMatchObject({ amountRefunded: 0, refunds: [{ refundId: 're_1', status: 'failed', undoneAt: 170 }] });
    expect(isMoneyTakenBack(failed)).toBe(false);
    // refund.failed, refund.updated and charge.refund.updated all report the one failure.
    expect(mergeSubscriptionPayment(mergeSubscriptionPayment(failed, refund('failed', 170)), refund('failed', 171))).toEqual(failed);
  });

  it('whatever the order the reports arrive in: the failure first, the charge\'s older total after it', () => {
    const stripeOrder = apply([refund('pending', 150), charged(999, 150), refund('succeeded', 151), refund('failed', 170)]);
    for (const order of [
      [refund('failed', 170), charged(999, 150), refund('pending', 150)],
      [charged(999, 150), refund('failed', 170), refund('succeeded', 151)],
      [refund('succeeded', 151), refund('failed', 170), charged(999, 150), refund('pending', 150)],
    ]) {
      expect(apply(order)).toMatchObject({ amountRefunded: 0, refunds: [{ status: 'failed', undoneAt: 170 }] });
    }
    expect(stripeOrder.amountRefunded).toBe(0);
  });

  it('a later refund still counts: two refunds, one failing, leave the other refunded', () => {
    const second: SubscriptionPaymentChange = { kind: 'refund', refundId: 're_2', amount: 500, status: 'succeeded', at: 160 };
    const p = apply([refund('succeeded', 150, 499), second, charged(999, 160), refund('failed', 170, 499)]);
    expect(p.amountRefunded).toBe(500);
    expect(isMoneyTakenBack(p)).toBe(false);
    // A charge total after the failure (Stripe already left it out) is not discounted again.
    expect(mergeSubscriptionPayment(p, charged(500, 180)).amountRefunded).toBe(500);
  });
});
