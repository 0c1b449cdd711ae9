import { describe, expect, it } from 'vitest';
import { decide } from './decide.js';
import type { DecideContext, Decision, GrantSpec } from './decision.js';
import type { OrderState } from './order-state.js';
import type { PaymentCommand, RefundFacts, RefundStatus } from './payment-command.js';

const CREDITS: GrantSpec = { kind: 'credits', credits: 100, partialRefund: 'proportional' };
const PLAN: GrantSpec = { kind: 'plan', plan: 'pro' };
const ctx = (at: number, grant: GrantSpec = CREDITS): DecideContext => ({ at, grant });

const paid: OrderState = {
  id: 'ord_1', userId: 'usr_1', status: 'succeeded', handler: 'new', amount: 2000, currency: 'usd',
  checkoutSessionId: 'cs_1', paymentIntentId: 'pi_1', statusAt: 100, paidAt: 100, amountRefunded: 0,
  disputeId: null, disputeStatus: null, statusBeforeDispute: null, reviewReason: null, failureReason: null, refunds: [],
};

const charged = (amountRefunded: number, paymentIntentId = 'pi_1'): PaymentCommand =>
  ({ type: 'charge_refunded', paymentIntentId, amountRefunded, currency: 'usd' });
const refund = (refundId: string, amount: number, status: RefundStatus, patch: Partial<RefundFacts> = {}): PaymentCommand => ({
  type: 'refund_changed',
  paymentIntentId: patch.paymentIntentId ?? 'pi_1',
  refund: { refundId, paymentIntentId: 'pi_1', amount, currency: 'usd', status, reason: 'requested_by_customer', failureReason: status === 'failed' ? 'expired_or_canceled_card' : null, createdAt: 150, ...patch },
});

function fold(steps: [PaymentCommand, number][], grant: GrantSpec = CREDITS, start: OrderState = paid) {
  let state = start;
  const decisions: Decision[] = [];
  for (const [command, at] of steps) {
    const d = decide(state, command, ctx(at, grant));
    decisions.push(d);
    state = d.next;
  }
  return { final: state, decisions, last: decisions[decisions.length - 1]! };
}

const effectsOf = (d: Decision, type: string) => d.effects.filter((e) => e.type === type);

describe('refund lifecycle: a failed or canceled refund is undone', () => {
  it.each([
    // [what, refunds before the failure (charge totals), failed refund amount, status after, credits revoked after]
    ['a full refund fails', [2000], 2000, 'succeeded', 0],
    ['a partial refund fails', [500], 500, 'succeeded', 0],
    ['one of two partial refunds fails', [500, 1000], 500, 'partially_refunded', 25],
    ['the second of two refunds making a full one fails', [1500, 2000], 500, 'partially_refunded', 75],
  ] as const)('%s', (_, totals, failedAmount, status, creditsRevoked) => {
    const steps: [PaymentCommand, number][] = totals.map((t, i) => [charged(t), 200 + i]);
    const { final, last } = fold([...steps, [refund('re_failed', failedAmount, 'failed'), 300]]);
    expect(final.status).toBe(status);
    expect(final.amountRefunded).toBe(totals[totals.length - 1]! - failedAmount);
    expect(last.outcome).toBe('applied');
    expect(effectsOf(last, 'restore')).toEqual([{ type: 'restore', grant: CREDITS, creditsRevoked, reason: 'refund_failed' }]);
    const from = totals[totals.length - 1] === 2000 ? 'refunded' : 'partially_refunded';
    expect(effectsOf(last, 'audit')).toEqual(
      from === status ? [] : [{ type: 'audit', from, to: status, reason: 'refund re_failed failed: expired_or_canceled_card' }],
    );
    expect(effectsOf(last, 'record_refund')).toHaveLength(1);
    expect(final.refunds).toEqual([{ refundId: 're_failed', amount: failedAmount, status: 'failed', undoneAt: 300 }]);
  });

  it('a canceled refund is undone like a failed one', () => {
    const { final } = fold([[charged(2000), 200], [refund('re_1', 2000, 'canceled'), 300]]);
    expect(final).toMatchObject({ status: 'succeeded', amountRefunded: 0 });
  });

  it('a redelivered failure changes nothing the second time', () => {
    const { decisions, final } = fold([[charged(2000), 200], [refund('re_1', 2000, 'failed'), 300], [refund('re_1', 2000, 'failed'), 300]]);
    expect(decisions[2]).toMatchObject({ outcome: 'noop', effects: [] });
    expect(final.status).toBe('succeeded');
  });

  it('the charge total that still counted the failed refund, delivered late, does not bring it back', () => {
    const { final, last } = fold([[refund('re_1', 2000, 'succeeded', { createdAt: 200 }), 200], [refund('re_1', 2000, 'failed'), 300], [charged(2000), 200]]);
    expect(final).toMatchObject({ status: 'succeeded', amountRefunded: 0 });
    expect(last.outcome).toBe('noop');
  });

  it('a later refund after a failed one counts once: Stripe\'s new total leaves the failed one out', () => {
    const { final } = fold([[charged(500), 200], [refund('re_1', 500, 'failed'), 300], [charged(700), 400]]);
    expect(final).toMatchObject({ status: 'partially_refunded', amountRefunded: 700 });
  });

  it('a refund failure delivered before the refund\'s own creation: the late creation does not revive it', () => {
    const { final, decisions } = fold([[refund('re_1', 500, 'failed'), 300], [refund('re_1', 500, 'pending'), 200], [charged(500), 200], [refund('re_1', 500, 'succeeded'), 250]]);
    expect(final).toMatchObject({ status: 'succeeded', amountRefunded: 0 });
    expect(decisions[1]!.outcome).toBe('stale');
    expect(decisions[3]!.outcome).toBe('stale');
  });

  it('a failure seen before the refund was counted heals when the charge total arrives', () => {
    const { final } = fold([[refund('re_1', 500, 'failed'), 300], [charged(500), 200]]);
    expect(final).toMatchObject({ status: 'succeeded', amountRefunded: 0 });
  });

  it('a plan taken back by a full refund is given back when the refund fails', () => {
    const { last, final } = fold([[charged(2000), 200], [refund('re_1', 2000, 'failed'), 300]], PLAN);
    expect(final.status).toBe('succeeded');
    expect(effectsOf(last, 'restore')).toEqual([{ type: 'restore', grant: PLAN, creditsRevoked: 0, reason: 'refund_failed' }]);
  });

  it('during a dispute the status to return to moves, the disputed status stays', () => {
    const { final } = fold([[charged(500), 200], [{ type: 'dispute_opened', paymentIntentId: 'pi_1', disputeId: 'dp_1', amount: 1500 }, 250], [refund('re_1', 500, 'failed'), 300]]);
    expect(final).toMatchObject({ status: 'disputed', statusBeforeDispute: 'succeeded', amountRefunded: 0 });
  });

  it('a pending refund is recorded and counts toward the refunded total', () => {
    const { final, last } = fold([[refund('re_1', 500, 'pending'), 200]]);
    expect(final).toMatchObject({ status: 'partially_refunded', amountRefunded: 500 });
    expect(effectsOf(last, 'record_refund')).toHaveLength(1);
  });

  it('a refund that stays succeeded on update is only recorded', () => {
    const { decisions } = fold([[charged(500), 200], [refund('re_1', 500, 'pending'), 200], [refund('re_1', 500, 'succeeded'), 250]]);
    expect(decisions[1]!.outcome).toBe('recorded');
    expect(decisions[2]!.outcome).toBe('recorded');
  });
});

describe('refunds larger than the payment', () => {
  it('Stripe reporting more refunded than paid parks the order for review, nothing revoked', () => {
    const { last, final } = fold([[charged(2500), 200]]);
    expect(last).toMatchObject({ outcome: 'parked', rejection: { code: 'REFUND_EXCEEDS_PAYMENT' } });
    expect(final.status).toBe('needs_review');
    expect(effectsOf(last, 'revoke')).toEqual([]);
  });
});

describe('a refund made again after one failed, whatever order Stripe delivers them in', () => {
  // r1 (full) fails at 300; the merchant refunds again (r2, full) at 310. Stripe never has both live.
  const r1 = refund('re_1', 2000, 'succeeded', { createdAt: 200 });
  const r1Failed = refund('re_1', 2000, 'failed', { createdAt: 200 });
  const r2 = refund('re_2', 2000, 'succeeded', { createdAt: 310 });
  it.each([
    ['in order', [[r1, 200], [charged(2000), 200], [r1Failed, 300], [r2, 310], [charged(2000), 310]]],
    ['the new refund before the failure', [[r1, 200], [charged(2000), 200], [r2, 310], [charged(2000), 310], [r1Failed, 300]]],
    ['the failure last, after a stale total', [[r1, 200], [r2, 310], [charged(2000), 200], [r1Failed, 300]]],
  ] as const)('%s: refunded once, never parked, every credit taken once', (_, steps) => {
    const { final, decisions } = fold(steps.map(([c, at]) => [c, at] as [PaymentCommand, number]));
    expect(final).toMatchObject({ status: 'refunded', amountRefunded: 2000, reviewReason: null });
    expect(decisions.some((d) => d.outcome === 'parked')).toBe(false);
    expect(decisions.flatMap((d) => effectsOf(d, 'revoke')).length).toBeGreaterThan(0);
    // The last fact to arrive gives nothing back: the refund standing at the end holds every credit.
    expect(effectsOf(decisions.at(-1)!, 'restore')).toEqual([]);
  });
});

describe('duplicate payments', () => {
  it('a refund of the duplicate payment is recorded beside the order; the order does not move', () => {
    const d = decide(paid, charged(2000, 'pi_dup'), ctx(200));
    expect(d).toMatchObject({ outcome: 'recorded', effects: [{ type: 'record_duplicate_refund', paymentIntentId: 'pi_dup', amountRefunded: 2000 }] });
    expect(d.next).toBe(paid);
    const r = decide(paid, { type: 'refund_changed', paymentIntentId: 'pi_dup', refund: { refundId: 're_d', paymentIntentId: 'pi_dup', amount: 2000, currency: 'usd', status: 'succeeded', reason: null, failureReason: null, createdAt: 200 } }, ctx(200));
    expect(r).toMatchObject({ outcome: 'recorded', effects: [{ type: 'record_refund' }] });
    // The order does not move; only the duplicate's refund is remembered beside it.
    const { otherRefunds, ...order } = r.next;
    expect(order).toEqual(paid);
    expect(otherRefunds).toEqual([{ refundId: 're_d', paymentIntentId: 'pi_dup', amount: 2000, status: 'succeeded', undoneAt: null }]);
  });

  it('a refund of the duplicate payment that fails is undone once: its amount is owed again, whatever arrives twice or late', () => {
    const refundOf = (status: 'succeeded' | 'failed') => ({ type: 'refund_changed' as const, paymentIntentId: 'pi_dup', refund: { refundId: 're_d', paymentIntentId: 'pi_dup', amount: 2000, currency: 'usd', status, reason: null, failureReason: null, createdAt: 200 } });
    const live = decide(paid, refundOf('succeeded'), ctx(200)).next;
    const failed = decide(live, refundOf('failed'), ctx(300));
    expect(failed).toMatchObject({ outcome: 'recorded', effects: [{ type: 'record_refund', undoneAt: 300 }, { type: 'undo_duplicate_refund', paymentIntentId: 'pi_dup', amount: 2000, floor: 0 }] });
    expect(failed.next.status).toBe(paid.status);
    // Delivered again: nothing more comes off.
    expect(decide(failed.next, refundOf('failed'), ctx(310))).toMatchObject({ outcome: 'noop', effects: [] });
    // The succeeded report delivered after the failure is older: stale.
    expect(decide(failed.next, refundOf('succeeded'), ctx(320))).toMatchObject({ effects: [] });
    // A charge total reported before the failure no longer counts the failed refund.
    expect(decide(failed.next, charged(2000, 'pi_dup'), ctx(250))).toMatchObject({ effects: [{ type: 'record_duplicate_refund', amountRefunded: 0 }] });
  });
});
