import { describe, expect, it } from 'vitest';
import { unmatchedDisposition, type PaymentIntentOwner } from './inbox.js';
import type { OrderRef, PaymentCommand } from './payment-command.js';

const ref = (orderId: string | null): OrderRef => ({ orderId, checkoutSessionId: null, paymentIntentId: 'pi_1' });
const refund: PaymentCommand = {
  type: 'refund_changed',
  paymentIntentId: 'pi_1',
  refund: { refundId: 're_1', paymentIntentId: 'pi_1', amount: 100, currency: 'usd', status: 'succeeded', reason: null, failureReason: null, createdAt: 1 },
};
const commands: [string, PaymentCommand][] = [
  ['payment', { type: 'payment_succeeded', paymentIntentId: 'pi_1', amount: 100, currency: 'usd' }],
  ['checkout', { type: 'checkout_expired', checkoutSessionId: 'cs_1' }],
  ['refund', refund],
  ['charge refund', { type: 'charge_refunded', paymentIntentId: 'pi_1', amountRefunded: 100, currency: 'usd' }],
  ['dispute', { type: 'dispute_opened', paymentIntentId: 'pi_1', disputeId: 'dp_1', amount: 100 }],
];

describe('unmatchedDisposition: ignored vs waited for', () => {
  it.each(commands)('%s naming a Settle order waits for it, whoever owns the payment', (_, command) => {
    for (const owner of ['settle', 'foreign', 'unknown'] as PaymentIntentOwner[]) expect(unmatchedDisposition(ref('ord'), command, owner)).toBe('wait');
  });

  it.each([
    ['payment', 'ignore', 'ignore', 'ignore'],
    ['checkout', 'ignore', 'ignore', 'ignore'],
    ['refund', 'wait', 'ignore', 'wait'],
    ['charge refund', 'wait', 'ignore', 'wait'],
    ['dispute', 'wait', 'ignore', 'wait'],
  ] as const)('%s without an order id: settle → %s, foreign → %s, unknown → %s', (name, settle, foreign, unknown) => {
    const command = commands.find(([n]) => n === name)![1];
    expect([unmatchedDisposition(ref(null), command, 'settle'), unmatchedDisposition(ref(null), command, 'foreign'), unmatchedDisposition(ref(null), command, 'unknown')]).toEqual([settle, foreign, unknown]);
  });

  it('an invoice payment that beat its invoice waits unless its invoice is known to be foreign', () => {
    const link: PaymentCommand = { type: 'invoice_payment_linked', invoiceId: 'in_1', invoicePaymentId: 'inpay_1', paymentIntentId: 'pi_1', chargeId: null, paid: true };
    expect(['settle', 'foreign', 'unknown'].map((owner) => unmatchedDisposition(ref(null), link, owner as PaymentIntentOwner))).toEqual(['wait', 'ignore', 'wait']);
  });
});
