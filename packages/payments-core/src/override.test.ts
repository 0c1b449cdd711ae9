import { describe, expect, it } from 'vitest';
import type { GrantSpec } from './decision.js';
import type { OrderState } from './order-state.js';
import { decideOverride } from './override.js';

const grant: GrantSpec = { kind: 'credits', credits: 10, partialRefund: 'proportional' };
const order = (status: OrderState['status'], paidAt: number | null = null): OrderState => ({
  id: 'o1', userId: 'u1', status, handler: 'new', amount: 2000, currency: 'usd', checkoutSessionId: 'cs_1',
  paymentIntentId: 'pi_1', statusAt: 100, paidAt, amountRefunded: 0, disputeId: null, disputeStatus: null,
  statusBeforeDispute: null, reviewReason: status === 'needs_review' ? 'AMOUNT_MISMATCH: x' : null, failureReason: null, refunds: [],
});

describe('decideOverride', () => {
  it('confirms a stuck processing order with its grant and the admin time as paidAt', () => {
    const r = decideOverride(order('processing'), 'succeeded', 'SEPA settled, webhook lost', { at: 500, grant });
    expect(r.ok && r.decision.effects.map((e) => e.type)).toEqual(['audit', 'grant', 'restore']);
    expect(r.ok && r.decision.next).toMatchObject({ status: 'succeeded', paidAt: 500 });
  });

  it('takes the grant back when a paid order is moved to refunded', () => {
    const r = decideOverride(order('succeeded', 100), 'refunded', 'refunded outside Stripe', { at: 500, grant });
    expect(r.ok && r.decision.effects).toEqual([
      { type: 'audit', from: 'succeeded', to: 'refunded', reason: 'refunded outside Stripe' },
      { type: 'revoke', grant, creditsRevoked: 10, reason: 'refund' },
    ]);
  });

  it('releases an order from review and clears the review reason', () => {
    const r = decideOverride(order('needs_review'), 'canceled', 'customer paid wrong amount; refunded', { at: 500, grant });
    expect(r.ok && r.decision.next).toMatchObject({ status: 'canceled', reviewReason: null });
    // Whatever the parked order holds is taken back (nothing, when it was parked unpaid).
    expect(r.ok && r.decision.effects.map((e) => e.type)).toEqual(['audit', 'revoke']);
  });

  it.each([
    // A parked (never granted) order the admin refunded: nothing granted; a granted one parked by an admin, then refunded: taken back.
    ['needs_review', 'refunded', [{ type: 'revoke', grant, creditsRevoked: 10, reason: 'refund' }]],
    ['needs_review', 'charged_back', [{ type: 'revoke', grant, creditsRevoked: 10, reason: 'chargeback' }]],
    // The refund bounced, the chargeback was reversed: the grant is given back whole.
    ['refunded', 'succeeded', [{ type: 'grant', grant }, { type: 'restore', grant, creditsRevoked: 0, reason: 'override' }]],
    ['charged_back', 'succeeded', [{ type: 'grant', grant }, { type: 'restore', grant, creditsRevoked: 0, reason: 'override' }]],
    ['processing', 'disputed', [{ type: 'grant', grant }]],
    ['succeeded', 'needs_review', []],
    ['succeeded', 'partially_refunded', []],
  ] as const)('%s → %s: grants follow where the order goes', (from, to, expected) => {
    const r = decideOverride(order(from, from === 'processing' || from === 'needs_review' ? null : 100), to, 'admin knows', { at: 500, grant });
    expect(r.ok && r.decision.effects.slice(1)).toEqual(expected);
  });

  it('partially refunded, with refunds Stripe reported while the order was in review: the grant is given less the refunded share', () => {
    const parked = { ...order('needs_review'), amountRefunded: 500 };
    const r = decideOverride(parked, 'partially_refunded', 'card owner confirmed; a quarter was refunded meanwhile', { at: 500, grant });
    expect(r.ok && r.decision.effects.slice(1)).toEqual([{ type: 'grant', grant }, { type: 'revoke', grant, creditsRevoked: 2, reason: 'refund' }]);
    // From a paid status too (the grant was given already: it is brought to the kept share).
    const paid = { ...order('succeeded', 100), amountRefunded: 1000 };
    const p = decideOverride(paid, 'partially_refunded', 'half refunded outside Settle', { at: 500, grant });
    expect(p.ok && p.decision.effects.slice(1)).toEqual([{ type: 'revoke', grant, creditsRevoked: 5, reason: 'refund' }]);
    // Marked succeeded, the admin says the money was kept: the grant is whole (the console warns of the refunds).
    expect(decideOverride(parked, 'succeeded', 'overpayment refunded', { at: 500, grant })).toMatchObject({ ok: true, decision: { effects: [{ type: 'audit' }, { type: 'grant' }, { type: 'restore' }] } });
  });

  it('refuses a blank reason and a move to the same status', () => {
    expect(decideOverride(order('pending'), 'succeeded', '  ', { at: 1, grant })).toMatchObject({ ok: false, code: 'REASON_REQUIRED' });
    expect(decideOverride(order('pending'), 'pending', 'why', { at: 1, grant })).toMatchObject({ ok: false, code: 'SAME_STATUS' });
  });
});
