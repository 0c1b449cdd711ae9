import { describe, expect, it } from 'vitest';
import { commandsFromInvoiceMoney, commandsFromSubscriptionSnapshot } from './subscription-snapshot.js';

const NOW = 1_730_000_000;
const sub = (status: string) => ({
  id: 'sub_1', object: 'subscription', status, customer: 'cus_1', cancel_at_period_end: false, cancel_at: null, metadata: { orderId: 'ord_1' },
  latest_invoice: 'in_2',
  items: { object: 'list', data: [{ id: 'si_1', current_period_end: NOW + 86_400, price: { id: 'price_pro_monthly' } }] },
});
const invoice = (status: string, attempts: number) => ({
  id: 'in_2', object: 'invoice', status, billing_reason: 'subscription_cycle', amount_due: 1999, amount_paid: status === 'paid' ? 1999 : 0,
  attempt_count: attempts, currency: 'usd', created: NOW - 3600, status_transitions: {},
  parent: { type: 'subscription_details', subscription_details: { subscription: 'sub_1', metadata: { orderId: 'ord_1' } } },
  lines: { object: 'list', data: [] },
});

describe('commandsFromSubscriptionSnapshot', () => {
  it.each([
    ['a paid renewal', 'active', invoice('paid', 1), ['subscription_invoice_paid', 'subscription_changed']],
    ['a renewal Stripe is retrying', 'past_due', invoice('open', 2), ['subscription_invoice_failed', 'subscription_changed']],
    ['an invoice not attempted yet', 'active', invoice('draft', 0), ['invoice_recorded', 'subscription_changed']],
    ['no invoice', 'canceled', null, ['subscription_changed']],
  ])('%s: the invoice, then the subscription, at the time of reading', (_, status, inv, types) => {
    const out = commandsFromSubscriptionSnapshot(sub(status), inv, NOW);
    expect(out?.map((c) => c.command.type)).toEqual(types);
    expect(out?.every((c) => c.at === NOW)).toBe(true);
  });

  it('is null for a malformed subscription or invoice (nothing is guessed)', () => {
    expect(commandsFromSubscriptionSnapshot({ id: 'sub_1', status: 'nonsense' }, null, NOW)).toBeNull();
    expect(commandsFromSubscriptionSnapshot(sub('active'), { id: 'in_2' }, NOW)).toBeNull();
  });
});

describe('commandsFromInvoiceMoney', () => {
  const paidInvoice = (id: string, created: number, reason: string) => ({ ...invoice('paid', 1), id, created, billing_reason: reason });
  const link = (invoiceId: string, pi: string, status = 'paid') => ({
    id: `inpay_${invoiceId}`, object: 'invoice_payment', invoice: invoiceId, status, payment: { type: 'payment_intent', payment_intent: pi },
  });
  const payment = (pi: string, extra: { disputes?: unknown[]; refunds?: unknown[] } = {}) => ({
    checkoutSession: null, charge: null, disputes: [], refunds: [],
    paymentIntent: { id: pi, object: 'payment_intent', status: 'succeeded', amount: 1999, amount_received: 1999, currency: 'usd', latest_charge: { id: `ch_${pi}`, created: NOW - 7200, amount_refunded: 0, currency: 'usd' } },
    ...extra,
  });

  it('records each paid invoice, links its money, then says what went back, oldest invoice first', () => {
    const lost = { id: 'dp_1', object: 'dispute', payment_intent: 'pi_2', amount: 1999, status: 'lost', created: NOW - 600 };
    const out = commandsFromInvoiceMoney('sub_1', [
      { invoice: paidInvoice('in_2', NOW - 3600, 'subscription_cycle'), invoicePayments: [link('in_2', 'pi_2')], payment: payment('pi_2', { disputes: [lost] }) },
      { invoice: paidInvoice('in_1', NOW - 90_000, 'subscription_create'), invoicePayments: [link('in_1', 'pi_1')], payment: payment('pi_1') },
    ], NOW);
    expect(out.map((c) => c.command.type)).toEqual([
      'invoice_recorded', 'invoice_payment_linked',
      'invoice_recorded', 'invoice_payment_linked', 'dispute_opened', 'dispute_closed',
    ]);
    // Only recorded: a renewal read again never confirms or moves anything.
    expect(out[2]!.command).toMatchObject({ type: 'invoice_recorded', invoice: { invoiceId: 'in_2', subscriptionId: 'sub_1', status: 'paid' } });
    expect(out.at(-1)!.command).toMatchObject({ paymentIntentId: 'pi_2', disputeId: 'dp_1', outcome: 'lost' });
  });

  it('skips a malformed invoice and an unpaid or foreign invoice payment, keeping the rest', () => {
    const out = commandsFromInvoiceMoney('sub_1', [
      { invoice: { id: 'in_bad' }, invoicePayments: [], payment: null },
      { invoice: paidInvoice('in_2', NOW - 3600, 'subscription_cycle'), invoicePayments: [link('in_2', 'pi_x', 'open'), link('in_9', 'pi_9')], payment: null },
    ], NOW);
    expect(out.map((c) => c.command.type)).toEqual(['invoice_recorded']);
  });
});
