import { describe, expect, it } from 'vitest';
import { mapStripeEvent } from './stripe-event.mapper.js';

const event = (type: string, object: Record<string, unknown>, api_version?: string) => ({ id: 'evt_1', type, created: 100, api_version, data: { object } });
const refund = (patch: Record<string, unknown> = {}) => ({
  id: 're_1', object: 'refund', amount: 500, currency: 'usd', created: 90, payment_intent: 'pi_1', charge: 'ch_1',
  status: 'succeeded', reason: 'requested_by_customer', failure_reason: null, metadata: {}, ...patch,
});

describe('mapStripeEvent: refunds as records', () => {
  it.each(['refund.created', 'refund.updated', 'refund.failed', 'charge.refund.updated'])('%s → refund_changed with the refund\'s facts', (type) => {
    expect(mapStripeEvent(event(type, refund({ status: 'failed', failure_reason: 'lost_or_stolen_card', metadata: { orderId: 'ord_1' } })))).toEqual({
      supported: true,
      ref: { orderId: 'ord_1', checkoutSessionId: null, paymentIntentId: 'pi_1' },
      command: {
        type: 'refund_changed',
        paymentIntentId: 'pi_1',
        refund: { refundId: 're_1', paymentIntentId: 'pi_1', amount: 500, currency: 'usd', status: 'failed', reason: 'requested_by_customer', failureReason: 'lost_or_stolen_card', createdAt: 90 },
      },
    });
  });

  it.each([
    ['no payment intent, charge only by id (before 2019)', refund({ payment_intent: null })],
    ['an unknown status', refund({ status: 'reversed' })],
    ['no amount', refund({ amount: null })],
  ])('a refund with %s is not acted on', (_, object) => {
    expect(mapStripeEvent(event('refund.updated', object))).toMatchObject({ supported: false });
  });

  it('an expanded charge still names the payment intent', () => {
    expect(mapStripeEvent(event('refund.failed', refund({ payment_intent: null, charge: { id: 'ch_1', payment_intent: 'pi_9' } })))).toMatchObject({
      supported: true,
      ref: { paymentIntentId: 'pi_9' },
    });
  });
});

describe('mapStripeEvent: shapes of older API versions', () => {
  it('a dispute without payment_intent but with an expanded charge finds it through the charge', () => {
    const dispute = { id: 'dp_1', object: 'dispute', amount: 500, charge: { id: 'ch_1', payment_intent: 'pi_1' }, status: 'needs_response' };
    expect(mapStripeEvent(event('charge.dispute.created', dispute, '2018-01-23'))).toMatchObject({ supported: true, command: { type: 'dispute_opened', paymentIntentId: 'pi_1' } });
  });

  it('an invoice.payment_failed rendered in 2018-01-23 (no billing_reason, `date`) is a subscription invoice failure', () => {
    const invoice = { id: 'in_1', object: 'invoice', amount_due: 500, amount_paid: 0, currency: 'usd', date: 80, subscription: 'sub_1', lines: { data: [{ period: { start: 80, end: 200 }, metadata: { orderId: 'ord_1' } }] } };
    expect(mapStripeEvent(event('invoice.payment_failed', invoice, '2018-01-23'))).toMatchObject({
      supported: true,
      ref: { orderId: 'ord_1' },
      command: { type: 'subscription_invoice_failed', subscriptionId: 'sub_1', billingReason: 'subscription', periodEnd: 200, invoice: { createdAt: 80 } },
    });
  });

  it('without an API version older than 2018-05-21 a missing billing_reason is not guessed', () => {
    const invoice = { id: 'in_1', object: 'invoice', amount_due: 500, amount_paid: 0, currency: 'usd', created: 80, subscription: 'sub_1' };
    expect(mapStripeEvent(event('invoice.payment_failed', invoice, '2020-08-27'))).toMatchObject({ supported: false });
  });

  it('a PaymentIntent with a `charges` list (before 2022-11-15) reads amount_received like today', () => {
    const intent = { id: 'pi_1', object: 'payment_intent', amount: 2000, amount_received: 2000, currency: 'usd', metadata: { orderId: 'ord_1' }, charges: { object: 'list', data: [{ id: 'ch_1', amount: 2000 }] } };
    expect(mapStripeEvent(event('payment_intent.succeeded', intent, '2020-08-27'))).toMatchObject({ supported: true, command: { type: 'payment_succeeded', amount: 2000, currency: 'usd' } });
  });
});
