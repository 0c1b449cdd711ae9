import { describe, expect, it } from 'vitest';
import { firstInvoicePayment } from './decide-new.js';
import { invoiceFactsOf } from './stripe-billing.mapper.js';

const invoice = (patch: Record<string, unknown>) => ({
  id: 'in_1', object: 'invoice', status: 'paid', currency: 'usd', billing_reason: 'subscription_create', created: 100, attempt_count: 1,
  amount_due: 999, amount_paid: 999, total: 999, lines: { object: 'list', data: [] }, ...patch,
});

describe('what a first invoice paid', () => {
  it.each([
    ['the card paid it all', {}, 999],
    ['a credit balance paid part of it', { starting_balance: -500, ending_balance: 0, amount_due: 499, amount_paid: 499 }, 999],
    ['a credit balance paid all of it', { starting_balance: -1500, ending_balance: -501, amount_due: 0, amount_paid: 0 }, 999],
    ['an old debt was added to it', { starting_balance: 300, ending_balance: 0, amount_due: 1299, amount_paid: 1299 }, 999],
    ['a drafted invoice has no balances yet', { starting_balance: -500, ending_balance: null }, 999],
  ])('%s', (_, patch, paid) => {
    const facts = invoiceFactsOf(invoice(patch));
    expect(facts).not.toBeNull();
    expect(firstInvoicePayment(facts!).amount).toBe(paid);
  });

  it('nothing due and no balance used is a trial or a full discount', () => {
    const facts = invoiceFactsOf(invoice({ amount_due: 0, amount_paid: 0, total: 0 }));
    expect(firstInvoicePayment(facts!)).toMatchObject({ amount: 0, amountWaived: 'nothing due on the first invoice' });
  });
});
