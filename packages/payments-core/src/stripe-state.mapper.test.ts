import { describe, expect, it } from 'vitest';
import { commandsFromStripeSnapshot } from './stripe-state.mapper.js';

describe('commandsFromStripeSnapshot', () => {
  it('reads a paid card Checkout as completion, then payment at the charge time', () => {
    const cmds = commandsFromStripeSnapshot({
      checkoutSession: { id: 'cs_1', status: 'complete', payment_status: 'paid', amount_total: 995, currency: 'usd', created: 10, payment_intent: 'pi_1' },
      paymentIntent: { id: 'pi_1', status: 'succeeded', amount: 995, amount_received: 995, currency: 'usd', latest_charge: { id: 'ch_1', created: 20, amount_refunded: 0, currency: 'usd' } },
      charge: null,
    }, 99);
    expect(cmds).toEqual([
      { command: { type: 'checkout_completed', checkoutSessionId: 'cs_1', paymentIntentId: 'pi_1', paymentStatus: 'paid', amount: 995, currency: 'usd' }, at: 10 },
      { command: { type: 'payment_succeeded', paymentIntentId: 'pi_1', amount: 995, currency: 'usd' }, at: 20 },
    ]);
  });

  it('reads an expired session, a failed attempt and a refund', () => {
    expect(commandsFromStripeSnapshot({ checkoutSession: { id: 'cs_2', status: 'expired', payment_status: 'unpaid' }, paymentIntent: null, charge: null }, 50))
      .toEqual([{ command: { type: 'checkout_expired', checkoutSessionId: 'cs_2' }, at: 50 }]);
    expect(commandsFromStripeSnapshot({ checkoutSession: null, paymentIntent: { id: 'pi_3', status: 'requires_payment_method', last_payment_error: { decline_code: 'insufficient_funds' } }, charge: null }, 50))
      .toEqual([{ command: { type: 'payment_failed', paymentIntentId: 'pi_3', reason: 'insufficient_funds' }, at: 50 }]);
    const refund = commandsFromStripeSnapshot({ checkoutSession: null, paymentIntent: { id: 'pi_4', status: 'succeeded', amount_received: 100, currency: 'usd' }, charge: { id: 'ch', created: 5, amount_refunded: 40, currency: 'usd' } }, 50);
    expect(refund.map((c) => c.command.type)).toEqual(['payment_succeeded', 'charge_refunded']);
  });

  it('reads the payment\'s disputes, oldest first: opened at their time, closed once decided', () => {
    const cmds = commandsFromStripeSnapshot({
      checkoutSession: null,
      paymentIntent: { id: 'pi_6', status: 'succeeded', amount_received: 995, currency: 'usd', latest_charge: { id: 'ch_6', created: 20, amount_refunded: 0, currency: 'usd' } },
      charge: null,
      disputes: [
        { id: 'dp_new', payment_intent: 'pi_6', amount: 995, created: 40, status: 'needs_response' },
        { id: 'dp_old', payment_intent: 'pi_6', amount: 995, created: 30, status: 'lost' },
        { id: 'dp_inquiry', payment_intent: 'pi_6', amount: 995, created: 35, status: 'warning_closed' },
      ],
    }, 99);
    expect(cmds.slice(1)).toEqual([
      { command: { type: 'dispute_opened', paymentIntentId: 'pi_6', disputeId: 'dp_old', amount: 995 }, at: 30 },
      { command: { type: 'dispute_closed', paymentIntentId: 'pi_6', disputeId: 'dp_old', outcome: 'lost' }, at: 99 },
      { command: { type: 'dispute_opened', paymentIntentId: 'pi_6', disputeId: 'dp_inquiry', amount: 995 }, at: 35 },
      { command: { type: 'dispute_closed', paymentIntentId: 'pi_6', disputeId: 'dp_inquiry', outcome: 'won' }, at: 99 },
      { command: { type: 'dispute_opened', paymentIntentId: 'pi_6', disputeId: 'dp_new', amount: 995 }, at: 40 },
    ]);
  });

  it('reads a prevented dispute as closed so, the money kept, never opened (as its events say)', () => {
    const cmds = commandsFromStripeSnapshot({
      checkoutSession: null,
      paymentIntent: { id: 'pi_7', status: 'succeeded', amount_received: 995, currency: 'usd', latest_charge: { id: 'ch_7', created: 20, amount_refunded: 0, currency: 'usd' } },
      charge: null,
      disputes: [{ id: 'dp_prevented', payment_intent: 'pi_7', amount: 995, created: 30, status: 'prevented' }],
    }, 99);
    expect(cmds.slice(1)).toEqual([{ command: { type: 'dispute_closed', paymentIntentId: 'pi_7', disputeId: 'dp_prevented', outcome: 'prevented' }, at: 99 }]);
  });

  it('reads nothing from an open session with a fresh intent', () => {
    expect(commandsFromStripeSnapshot({ checkoutSession: { id: 'cs_5', status: 'open', payment_status: 'unpaid' }, paymentIntent: { id: 'pi_5', status: 'requires_payment_method' }, charge: null }, 1)).toEqual([]);
  });
});
