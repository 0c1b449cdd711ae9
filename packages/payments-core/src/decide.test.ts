import { describe, expect, it } from 'vitest';
import { decide, decideWith } from './decide.js';
import type { DecideContext, Decision, Effect, GrantSpec, Outcome } from './decision.js';
import { HANDLERS, ORDER_STATUSES, isPaid, type Handler, type OrderState, type OrderStatus } from './order-state.js';
import type { PaymentCommand, PaymentCommandType } from './payment-command.js';

const AT = 100;
const LATER = 200;
const CREDITS: GrantSpec = { kind: 'credits', credits: 100, partialRefund: 'proportional' };
const ctx = (at = LATER, grant: GrantSpec = CREDITS): DecideContext => ({ at, grant });

/** A consistent order of 2000 usd in the given status, last moved at `AT`. */
function order(status: OrderStatus, patch: Partial<OrderState> = {}): OrderState {
  const disputed = status === 'disputed' || status === 'charged_back';
  return {
    id: 'ord_1',
    userId: 'usr_1',
    status,
    handler: 'new',
    amount: 2000,
    currency: 'usd',
    checkoutSessionId: 'cs_1',
    paymentIntentId: status === 'pending' ? null : 'pi_1',
    statusAt: status === 'pending' ? null : AT,
    paidAt: isPaid(status) ? AT : null,
    amountRefunded: status === 'partially_refunded' ? 500 : status === 'refunded' ? 2000 : 0,
    disputeId: disputed ? 'dp_1' : null,
    disputeStatus: status === 'disputed' ? 'open' : status === 'charged_back' ? 'lost' : null,
    statusBeforeDispute: disputed ? 'succeeded' : null,
    reviewReason: status === 'needs_review' ? 'AMOUNT_MISMATCH: test' : null,
    failureReason: status === 'failed' ? 'card_declined' : null,
    refunds: [],
    ...patch,
  };
}

const INVOICE = {
  invoiceId: 'in_1', number: 'INV-1', status: 'paid', hostedInvoiceUrl: null, invoicePdf: null,
  amountDue: 2000, amountPaid: 2000, currency: 'usd', subscriptionId: null,
  createdAt: AT, finalizedAt: AT, paidAt: AT,
};

/** One representative command per type, all about the order's own session and intent. */
const COMMANDS: Record<PaymentCommandType, PaymentCommand> = {
  checkout_completed: {
    type: 'checkout_completed', checkoutSessionId: 'cs_1', paymentIntentId: 'pi_1',
    paymentStatus: 'paid', amount: 2000, currency: 'usd',
  },
  checkout_async_succeeded: { type: 'checkout_async_succeeded', checkoutSessionId: 'cs_1', paymentIntentId: 'pi_1' },
  checkout_expired: { type: 'checkout_expired', checkoutSessionId: 'cs_1' },
  payment_created: { type: 'payment_created', paymentIntentId: 'pi_1' },
  payment_processing: { type: 'payment_processing', paymentIntentId: 'pi_1' },
  payment_requires_action: { type: 'payment_requires_action', paymentIntentId: 'pi_1' },
  payment_succeeded: { type: 'payment_succeeded', paymentIntentId: 'pi_1', amount: 2000, currency: 'usd' },
  payment_failed: { type: 'payment_failed', paymentIntentId: 'pi_1', reason: 'card_declined' },
  payment_canceled: { type: 'payment_canceled', paymentIntentId: 'pi_1', reason: 'abandoned' },
  charge_refunded: { type: 'charge_refunded', paymentIntentId: 'pi_1', amountRefunded: 1000, currency: 'usd' },
  dispute_opened: { type: 'dispute_opened', paymentIntentId: 'pi_1', disputeId: 'dp_2', amount: 2000 },
  dispute_closed: { type: 'dispute_closed', paymentIntentId: 'pi_1', disputeId: 'dp_1', outcome: 'lost' },
  invoice_recorded: { type: 'invoice_recorded', invoice: INVOICE },
  refund_changed: {
    type: 'refund_changed',
    paymentIntentId: 'pi_1',
    refund: { refundId: 're_1', paymentIntentId: 'pi_1', amount: 500, currency: 'usd', status: 'failed', reason: null, failureReason: 'expired_or_canceled_card', createdAt: AT },
  },
};
const COMMAND_TYPES = Object.keys(COMMANDS) as PaymentCommandType[];

const grants = (effects: Effect[]) => effects.filter((e) => e.type === 'grant');
const revokes = (effects: Effect[]) => effects.filter((e) => e.type === 'revoke');

/** Runs commands (each with its event time) through `decide`, returning every decision. */
function fold(start: OrderState, steps: [PaymentCommand, number][], grant: GrantSpec = CREDITS) {
  let current = start;
  const decisions: Decision[] = [];
  for (const [command, at] of steps) {
    const d = decide(current, command, ctx(at, grant));
    decisions.push(d);
    current = d.next;
  }
  return { final: current, decisions, last: decisions[decisions.length - 1]! };
}

// ---------------------------------------------------------------------------------------------
// The full (handler x status x command) table. `outcome` keeps the status; `outcome>status` moves.

type Expected = Outcome | `${Outcome}>${OrderStatus}`;
type Group = OrderStatus | readonly OrderStatus[];
const UNPAID = ['pending', 'processing', 'requires_action', 'failed'] as const;

const rule =
  (otherwise: Expected, ...groups: [Group, Expected][]) =>
  (s: OrderStatus): Expected =>
    groups.find(([g]) => (typeof g === 'string' ? g === s : g.includes(s)))?.[1] ?? otherwise;

const confirms = rule('noop', [UNPAID, 'applied>succeeded'], ['canceled', 'parked>needs_review']);
const linksOnly = rule('noop', ['pending', 'applied']); // only the pending order lacks the intent id
const cancels = rule('not_applicable', [UNPAID, 'applied>canceled'], ['canceled', 'noop']);

const COMMON: Record<PaymentCommandType, (s: OrderStatus) => Expected> = {
  checkout_completed: linksOnly,
  payment_succeeded: confirms,
  checkout_async_succeeded: linksOnly,
  payment_created: linksOnly,
  checkout_expired: cancels,
  payment_canceled: cancels,
  payment_processing: rule('not_applicable', [['pending', 'requires_action', 'failed'], 'applied>processing'], ['processing', 'noop']),
  payment_requires_action: rule('not_applicable', [['pending', 'processing', 'failed'], 'applied>requires_action'], ['requires_action', 'noop']),
  payment_failed: rule('not_applicable', [['pending', 'processing', 'requires_action'], 'applied>failed'], ['failed', 'noop']),
  // 1000 of 2000 refunded: partially_refunded (500 so far) grows; refunded (2000) has seen more.
  // Before the payment is confirmed the total is only recorded (settled on confirmation).
  charge_refunded: rule(
    'applied',
    ['succeeded', 'applied>partially_refunded'],
    ['refunded', 'noop'],
    ['charged_back', 'not_applicable'],
  ),
  // A second dispute (dp_2) cannot open on an order already disputed or settled.
  // Before the payment is confirmed a dispute is only recorded (settled on confirmation).
  dispute_opened: rule('not_applicable', [['succeeded', 'partially_refunded'], 'applied>disputed'], [[...UNPAID, 'canceled'], 'applied']),
  // dp_1 lost. A refunded order records the dispute but cannot be charged back; charged_back already knows.
  dispute_closed: rule(
    'not_applicable',
    [['succeeded', 'partially_refunded', 'disputed'], 'applied>charged_back'],
    [[...UNPAID, 'canceled', 'refunded'], 'applied'],
    ['charged_back', 'noop'],
  ),
  invoice_recorded: rule('recorded'),
  // A failed refund of 500: the partial refund (500) is undone, the full one (2000) drops to 1500;
  // with nothing refunded only the refund's record is kept.
  refund_changed: rule('recorded', ['partially_refunded', 'applied>succeeded'], ['refunded', 'applied>partially_refunded']),
};

const EXPECTED: Record<Handler, Record<PaymentCommandType, (s: OrderStatus) => Expected>> = {
  new: COMMON,
  legacy: { ...COMMON, checkout_completed: confirms, payment_succeeded: linksOnly },
};

function expected(handler: Handler, status: OrderStatus, type: PaymentCommandType): Expected {
  if (status === 'needs_review') return type === 'invoice_recorded' ? 'recorded' : 'under_review';
  return EXPECTED[handler][type](status);
}

const PAIRS = ORDER_STATUSES.flatMap((s) => COMMAND_TYPES.map((t) => [s, t] as const));

describe.each(HANDLERS)('%s handler: every status x command', (handler) => {
  it.each(PAIRS)('%s + %s', (status, type) => {
    const before = order(status, { handler });
    const d = decide(before, COMMANDS[type], ctx());
    const [outcome, to = status] = expected(handler, status, type).split('>') as [Outcome, OrderStatus?];

    expect({ outcome: d.outcome, status: d.next.status }).toEqual({ outcome, status: to });
    // Exactly one grant, and only on the move into `succeeded` from unpaid (an undone refund restores).
    expect(grants(d.effects)).toHaveLength(to === 'succeeded' && !isPaid(status) ? 1 : 0);
    if (to !== status) {
      expect(d.effects).toContainEqual(expect.objectContaining({ type: 'audit', from: status, to }));
      expect(d.next.statusAt).toBe(LATER);
    }
    if (['noop', 'not_applicable', 'under_review', 'stale'].includes(outcome)) {
      // An order in review keeps what Stripe gave back (its refunds and refunded total), nothing else.
      const { amountRefunded: _a, refunds: _r, ...rest } = d.next;
      const { amountRefunded: _b, refunds: _s, ...restBefore } = before;
      expect(status === 'needs_review' && (type === 'charge_refunded' || type === 'refund_changed') ? rest : d.next).toEqual(status === 'needs_review' && (type === 'charge_refunded' || type === 'refund_changed') ? restBefore : before);
      // A refund keeps its own record whatever the order's status.
      expect(d.effects.filter((e) => e.type !== 'record_refund')).toEqual([]);
    }
    expect(d.rejection !== null).toBe(outcome === 'parked' || d.rejection?.code === 'DUPLICATE_PAYMENT');
  });
});

// ---------------------------------------------------------------------------------------------

const completed = (paymentStatus: 'paid' | 'unpaid', patch: Partial<PaymentCommand> = {}): PaymentCommand =>
  ({ ...COMMANDS.checkout_completed, paymentStatus, ...patch }) as PaymentCommand;
const succeeded = (patch: Partial<{ paymentIntentId: string; amount: number; currency: string }> = {}): PaymentCommand =>
  ({ ...COMMANDS.payment_succeeded, ...patch }) as PaymentCommand;
const refunded = (amountRefunded: number): PaymentCommand => ({ ...COMMANDS.charge_refunded, amountRefunded }) as PaymentCommand;
const opened = (disputeId = 'dp_1'): PaymentCommand => ({ ...COMMANDS.dispute_opened, disputeId }) as PaymentCommand;
const closed = (won: boolean | 'prevented', disputeId = 'dp_1'): PaymentCommand =>
  ({ type: 'dispute_closed', paymentIntentId: 'pi_1', disputeId, outcome: won === 'prevented' ? won : won ? 'won' : 'lost' }) as PaymentCommand;

describe('new handler', () => {
  it('checkout completed unpaid: processing, linked, no grant', () => {
    const d = decide(order('pending'), completed('unpaid'), ctx());
    expect(d.outcome).toBe('applied');
    expect(d.next).toMatchObject({ status: 'processing', paymentIntentId: 'pi_1', statusAt: LATER });
    expect(grants(d.effects)).toHaveLength(0);
  });

  it('checkout completed paid: only links, status unchanged', () => {
    const d = decide(order('pending', { checkoutSessionId: null }), completed('paid'), ctx());
    expect(d.outcome).toBe('applied');
    expect(d.next).toMatchObject({ status: 'pending', checkoutSessionId: 'cs_1', paymentIntentId: 'pi_1', paidAt: null });
    expect(d.effects).toEqual([]);
  });

  it('payment succeeded with matching amount and currency: succeeded, one grant, paidAt = ctx.at', () => {
    const d = decide(order('pending'), succeeded(), ctx(LATER));
    expect(d.outcome).toBe('applied');
    expect(d.next).toMatchObject({ status: 'succeeded', paidAt: LATER, statusAt: LATER, paymentIntentId: 'pi_1' });
    expect(grants(d.effects)).toEqual([{ type: 'grant', grant: CREDITS }]);
  });

  it('currency is compared case-insensitively', () => {
    expect(decide(order('pending'), succeeded({ currency: 'USD' }), ctx()).next.status).toBe('succeeded');
  });

  it.each([
    ['amount mismatch', 'pending', succeeded({ amount: 1999 }), 'AMOUNT_MISMATCH'],
    ['currency mismatch', 'pending', succeeded({ currency: 'eur' }), 'CURRENCY_MISMATCH'],
    ['paid after cancellation', 'canceled', succeeded(), 'PAID_AFTER_CANCELLATION'],
  ] as const)('%s: parked in needs_review, no grant', (_, status, command, code) => {
    const d = decide(order(status), command, ctx());
    expect(d.outcome).toBe('parked');
    expect(d.rejection?.code).toBe(code);
    expect(d.next.status).toBe('needs_review');
    expect(d.next.reviewReason).toMatch(new RegExp(`^${code}`));
    expect(grants(d.effects)).toHaveLength(0);
  });

  it('a payment of another PaymentIntent, with a refund already recorded against the linked one: parked in needs_review', () => {
    const d = decide(order('processing', { amountRefunded: 500 }), succeeded({ paymentIntentId: 'pi_other' }), ctx());
    expect(d.rejection?.code).toBe('PAYMENT_INTENT_MISMATCH');
    expect(d.next.status).toBe('needs_review');
  });

  it('a payment of another PaymentIntent of the same order, first to succeed, confirms it; the linked one succeeding later is the duplicate', () => {
    // The second PaymentIntent's events came first: the order is still linked to the first one.
    const d = decide(order('processing'), succeeded({ paymentIntentId: 'pi_other' }), ctx(LATER));
    expect(d.outcome).toBe('applied');
    expect(d.next).toMatchObject({ status: 'succeeded', paymentIntentId: 'pi_other' });
    expect(grants(d.effects)).toEqual([{ type: 'grant', grant: CREDITS }]);
    const later = decide(d.next, succeeded(), ctx(LATER + 1));
    expect(later).toMatchObject({ outcome: 'recorded', rejection: { code: 'DUPLICATE_PAYMENT' } });
    expect(grants(later.effects)).toHaveLength(0);
  });

  it.each(['new', 'legacy'] as const)('%s: a second, different payment for a paid order is recorded as a duplicate; the order stays, nothing granted', (handler) => {
    const before = order('succeeded', { handler });
    const d = decide(before, succeeded({ paymentIntentId: 'pi_2' }), ctx());
    expect(d).toMatchObject({
      outcome: 'recorded',
      rejection: { code: 'DUPLICATE_PAYMENT' },
      effects: [{ type: 'record_duplicate_payment', paymentIntentId: 'pi_2', amount: 2000, currency: 'usd', at: LATER }],
    });
    expect(d.next).toBe(before);
  });

  it.each(['new', 'legacy'] as const)('%s: a dispute of a duplicate payment, lost, leaves the order paid and its grant', (handler) => {
    const { final, decisions } = fold(order('succeeded', { handler }), [
      [{ type: 'dispute_opened', paymentIntentId: 'pi_2', disputeId: 'dp_dup', amount: 2000 }, 10],
      [{ type: 'dispute_closed', paymentIntentId: 'pi_2', disputeId: 'dp_dup', outcome: 'lost' }, 20],
    ]);
    expect(final).toMatchObject({ status: 'succeeded', disputeId: null });
    expect(decisions.map((d) => d.outcome)).toEqual(['not_applicable', 'not_applicable']);
    expect(decisions.flatMap((d) => d.effects)).toEqual([]);
  });

  it('failed then a later payment_succeeded still confirms', () => {
    const { final, decisions } = fold(order('pending'), [
      [COMMANDS.payment_failed, 10],
      [succeeded(), 20],
    ]);
    expect(final).toMatchObject({ status: 'succeeded', failureReason: null, paidAt: 20 });
    expect(decisions.flatMap((d) => grants(d.effects))).toHaveLength(1);
  });

  it('a stale (older) processing event after failed does not move it', () => {
    const { final, last } = fold(order('pending'), [
      [COMMANDS.payment_processing, 10],
      [COMMANDS.payment_failed, 20],
      [COMMANDS.payment_processing, 15],
    ]);
    expect(last.outcome).toBe('stale');
    expect(final.status).toBe('failed');
  });

  it.each([
    // [first, second, both at the same second] -> final status
    ['payment_processing', 'payment_failed', 'failed'],
    ['payment_failed', 'payment_processing', 'failed'],
    ['payment_requires_action', 'payment_processing', 'processing'],
    ['payment_processing', 'payment_requires_action', 'processing'],
    ['payment_failed', 'payment_succeeded', 'succeeded'],
    ['payment_succeeded', 'payment_failed', 'succeeded'],
    ['payment_canceled', 'payment_failed', 'canceled'],
  ] as const)('same-second tie: %s then %s ends %s (higher rank wins)', (a, b, status) => {
    expect(fold(order('pending'), [[COMMANDS[a], 50], [COMMANDS[b], 50]]).final.status).toBe(status);
  });

  it('a strictly newer event may move down the attempt band', () => {
    expect(fold(order('pending'), [[COMMANDS.payment_failed, 50], [COMMANDS.payment_processing, 51]]).final.status).toBe('processing');
  });

  it.each(COMMAND_TYPES.filter((t) => t !== 'invoice_recorded'))('duplicate %s is a noop without effects', (type) => {
    const start = order(type.startsWith('dispute') || type === 'charge_refunded' ? 'succeeded' : 'pending');
    const first = decide(start, COMMANDS[type], ctx());
    const again = decide(first.next, COMMANDS[type], ctx());
    expect(again.outcome).toBe('noop');
    expect(again.effects).toEqual([]);
    expect(again.next).toEqual(first.next);
  });
});

describe('legacy handler', () => {
  const legacy = (status: OrderStatus, patch: Partial<OrderState> = {}) => order(status, { handler: 'legacy', ...patch });

  it('checkout completed confirms with one grant, even when unpaid', () => {
    for (const paymentStatus of ['paid', 'unpaid'] as const) {
      const d = decide(legacy('pending'), completed(paymentStatus), ctx());
      expect(d.next).toMatchObject({ status: 'succeeded', paidAt: LATER, paymentIntentId: 'pi_1' });
      expect(grants(d.effects)).toEqual([{ type: 'grant', grant: CREDITS }]);
    }
  });

  it('checkout completed with the wrong amount is parked', () => {
    const d = decide(legacy('pending'), completed('paid', { amount: 1 } as Partial<PaymentCommand>), ctx());
    expect(d).toMatchObject({ outcome: 'parked', rejection: { code: 'AMOUNT_MISMATCH' } });
  });

  it('a plan\'s checkout with nothing due (a trial) confirms with one grant, the amount check waived and said so; the currency check stands', () => {
    const trial = { amount: 0, paymentIntentId: null, subscriptionId: 'sub_1' } as Partial<PaymentCommand>;
    const d = decide(legacy('pending'), { ...completed('paid', trial), paymentStatus: 'no_payment_required' } as PaymentCommand, ctx());
    expect(d.next).toMatchObject({ status: 'succeeded', paidAt: LATER });
    expect(grants(d.effects)).toEqual([{ type: 'grant', grant: CREDITS }]);
    expect(d.effects.find((e) => e.type === 'audit')).toMatchObject({ to: 'succeeded', reason: expect.stringContaining('nothing due') });
    const otherCurrency = decide(legacy('pending'), { ...completed('paid', { ...trial, currency: 'eur' } as Partial<PaymentCommand>), paymentStatus: 'no_payment_required' } as PaymentCommand, ctx());
    expect(otherCurrency).toMatchObject({ outcome: 'parked', rejection: { code: 'CURRENCY_MISMATCH' } });
    // Nothing due is a plan's trial only: a one-time Checkout at zero, or a plan's unpaid one, is still checked.
    expect(decide(legacy('pending'), { ...completed('paid', { amount: 0 } as Partial<PaymentCommand>), paymentStatus: 'no_payment_required' } as PaymentCommand, ctx())).toMatchObject({ outcome: 'parked', rejection: { code: 'AMOUNT_MISMATCH' } });
    expect(decide(legacy('pending'), completed('unpaid', trial), ctx())).toMatchObject({ outcome: 'parked', rejection: { code: 'AMOUNT_MISMATCH' } });
  });

  it('checkout completed on an already-paid order without session links the session only', () => {
    const d = decide(legacy('succeeded', { checkoutSessionId: null }), completed('paid'), ctx());
    expect(d.outcome).toBe('applied');
    expect(d.next).toMatchObject({ status: 'succeeded', checkoutSessionId: 'cs_1' });
    expect(d.effects).toEqual([]);
  });

  it('payment succeeded only links', () => {
    const d = decide(legacy('pending'), succeeded(), ctx());
    expect(d.next).toMatchObject({ status: 'pending', paymentIntentId: 'pi_1', paidAt: null });
    expect(d.effects).toEqual([]);
  });
});

describe('refunds', () => {
  it('partial refund: partially_refunded with a proportional revoke', () => {
    const d = decide(order('succeeded'), refunded(500), ctx());
    expect(d.next).toMatchObject({ status: 'partially_refunded', amountRefunded: 500 });
    expect(revokes(d.effects)).toEqual([{ type: 'revoke', grant: CREDITS, creditsRevoked: 25, reason: 'refund' }]);
  });

  it('revokes are running totals as refunds grow, up to a full refund', () => {
    const { final, decisions } = fold(order('succeeded'), [[refunded(500), 300], [refunded(1000), 301], [refunded(2000), 302]]);
    expect(decisions.map((d) => d.next.status)).toEqual(['partially_refunded', 'partially_refunded', 'refunded']);
    expect(decisions.map((d) => revokes(d.effects).map((e) => e.type === 'revoke' && e.creditsRevoked))).toEqual([[25], [50], [100]]);
    expect(final.amountRefunded).toBe(2000);
  });

  it('full refund: refunded, every credit revoked', () => {
    const d = decide(order('succeeded'), refunded(2000), ctx());
    expect(d.next.status).toBe('refunded');
    expect(revokes(d.effects)).toEqual([{ type: 'revoke', grant: CREDITS, creditsRevoked: 100, reason: 'refund' }]);
  });

  it.each([
    ['the same refund again', [500, 500]],
    ['a smaller cumulative amount arriving late', [1000, 500]],
  ])('%s is a noop', (_, amounts) => {
    const { final, last } = fold(order('succeeded'), amounts.map((a, i) => [refunded(a), 300 + i] as [PaymentCommand, number]));
    expect(last).toMatchObject({ outcome: 'noop', effects: [] });
    expect(final.amountRefunded).toBe(amounts[0]);
  });

  it.each([
    ['credits, partial, rounding down', CREDITS, 333, [16]],
    ['credits without partial revocation, partial', { kind: 'credits', credits: 100, partialRefund: 'none' }, 500, []],
    ['plan, partial', { kind: 'plan', plan: 'pro' }, 500, []],
    ['plan, full', { kind: 'plan', plan: 'pro' }, 2000, [0]],
  ] as const)('grant %s: revokes %j', (_, grant, amount, expectedRevokes) => {
    const d = decide(order('succeeded'), refunded(amount), ctx(LATER, grant));
    expect(revokes(d.effects).map((e) => e.type === 'revoke' && e.creditsRevoked)).toEqual(expectedRevokes);
  });

  it.each([
    ['in full', 2000, 'refunded', 100],
    ['in part', 500, 'partially_refunded', 25],
  ] as const)('refunded %s before the payment is seen: recorded, then settled on confirmation', (_, amount, status, credits) => {
    const { final, decisions } = fold(order('pending'), [[refunded(amount), 300], [COMMANDS.payment_succeeded, 100]]);
    expect(decisions[0]).toMatchObject({ outcome: 'applied', next: { status: 'pending', amountRefunded: amount }, effects: [] });
    expect(final).toMatchObject({ status, amountRefunded: amount, paidAt: 100 });
    expect(decisions[1]!.effects.map((e) => e.type)).toEqual(['audit', 'grant', 'restore', 'audit', 'revoke']);
    expect(revokes(decisions[1]!.effects)).toEqual([{ type: 'revoke', grant: CREDITS, creditsRevoked: credits, reason: 'refund' }]);
  });

  it('an older refund event still settles the order (refunds are not stale)', () => {
    const d = decide(order('succeeded'), refunded(2000), ctx(AT - 50));
    expect(d.next.status).toBe('refunded');
    expect(d.next.statusAt).toBe(AT);
  });
});

describe('disputes', () => {
  it('opened: disputed, remembering the previous status', () => {
    const d = decide(order('succeeded'), opened(), ctx());
    expect(d.next).toMatchObject({ status: 'disputed', disputeId: 'dp_1', disputeStatus: 'open', statusBeforeDispute: 'succeeded' });
  });

  it.each(['succeeded', 'partially_refunded'] as const)('won: back to %s', (status) => {
    const { final } = fold(order(status), [[opened(), 300], [closed(true), 400]]);
    expect(final).toMatchObject({ status, disputeStatus: 'won' });
  });

  it('prevented (Stripe stopped it before a chargeback), never opened: the order stays paid and says prevented, not won', () => {
    const { final, last } = fold(order('succeeded'), [[closed('prevented'), 400]]);
    expect(final).toMatchObject({ status: 'succeeded', disputeId: 'dp_1', disputeStatus: 'prevented' });
    expect(last.effects).toEqual([]);
  });

  it('prevented after it opened: back to the status before, the audit naming the prevention', () => {
    const { final, last } = fold(order('succeeded'), [[opened(), 300], [closed('prevented'), 400]]);
    expect(final).toMatchObject({ status: 'succeeded', disputeStatus: 'prevented' });
    expect(last.effects).toEqual([{ type: 'audit', from: 'disputed', to: 'succeeded', reason: 'dispute dp_1 prevented' }]);
  });

  it('lost: charged_back with a full revoke', () => {
    const { final, last } = fold(order('succeeded'), [[opened(), 300], [closed(false), 400]]);
    expect(final).toMatchObject({ status: 'charged_back', disputeStatus: 'lost' });
    expect(revokes(last.effects)).toEqual([{ type: 'revoke', grant: CREDITS, creditsRevoked: 100, reason: 'chargeback' }]);
  });

  it('a partial refund during a dispute is restored when it is won', () => {
    const { final } = fold(order('succeeded'), [[opened(), 300], [refunded(500), 310], [closed(true), 400]]);
    expect(final).toMatchObject({ status: 'partially_refunded', amountRefunded: 500 });
  });

  it.each([
    [true, 'succeeded'],
    [false, 'charged_back'],
  ] as const)('closed (won=%s) before opened, then opened: no re-dispute, ends %s', (won, status) => {
    const { final, last } = fold(order('succeeded'), [[closed(won), 400], [opened(), 300]]);
    expect(last.outcome).toBe('noop');
    expect(final).toMatchObject({ status, disputeStatus: won ? 'won' : 'lost' });
  });
});

describe('needs_review', () => {
  it.each(HANDLERS.flatMap((h) => COMMAND_TYPES.map((t) => [h, t] as const)))('%s handler, %s', (handler, type) => {
    const before = order('needs_review', { handler });
    const d = decideWith(handler, before, COMMANDS[type], ctx());
    if (type === 'invoice_recorded') {
      expect(d).toMatchObject({ outcome: 'recorded', effects: [{ type: 'record_invoice', invoice: INVOICE }] });
    } else if (type === 'refund_changed') {
      expect(d).toMatchObject({ outcome: 'under_review', effects: [{ type: 'record_refund' }] });
      // The refund is kept on the order (a failed one undoes nothing that was not counted).
      expect(d.next).toMatchObject({ status: 'needs_review', refunds: [expect.objectContaining({ refundId: (COMMANDS.refund_changed as { refund: { refundId: string } }).refund.refundId })] });
      return;
    } else if (type === 'charge_refunded') {
      // What Stripe gave back is kept for the admin's decision; the status and the grant stay.
      expect(d).toMatchObject({ outcome: 'under_review', effects: [], next: { status: 'needs_review', amountRefunded: 1000 } });
      return;
    } else {
      expect(d).toMatchObject({ outcome: 'under_review', effects: [] });
    }
    expect(d.next).toBe(before);
  });
});
