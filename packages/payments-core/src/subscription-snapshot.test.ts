import { describe, expect, it } from 'vitest';
import { commandsFromSubscriptionSnapshot } from './subscription-snapshot.js';

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
