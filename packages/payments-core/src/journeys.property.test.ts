import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decide } from './decide.js';
import type { GrantSpec } from './decision.js';
import type { OrderState } from './order-state.js';
import type { OrderStatus } from './order-state.js';
import { mapStripeEvent, type StripeEventLike } from './stripe-event.mapper.js';

const CS = 'cs_test_a1YS1URlnyQCN5fUUduORoQ7Pw41PJqDWkIVQCpJPqkfIhd6tVY8XB1OLY';
const PI = 'pi_1PgafyB7WZ01zgkWSjxsAJo3';
const T0 = 1_721_948_530;
const DAY = 86_400;
const GRANT: GrantSpec = { kind: 'credits', credits: 100, partialRefund: 'proportional' };

// Stripe-shaped objects (see /work/shared/stripe-fixtures), cut to what a scenario sets.
const session = (payment_status: 'paid' | 'unpaid') => ({
  id: CS, object: 'checkout.session', mode: 'payment', status: 'complete', payment_status,
  payment_intent: PI, amount_total: 2000, currency: 'usd', metadata: { orderId: 'ord_1' },
});
const intent = (status: string, patch: Record<string, unknown> = {}) => ({
  id: PI, object: 'payment_intent', amount: 2000, amount_received: status === 'succeeded' ? 2000 : 0,
  currency: 'usd', status, metadata: { orderId: 'ord_1' }, last_payment_error: null, ...patch,
});
const charge = (amount_refunded: number) => ({
  id: 'ch_1PgafuB7WZ01zgkWXYmPNZs8', object: 'charge', amount: 2000, amount_refunded, currency: 'usd',
  paid: true, refunded: amount_refunded === 2000, status: 'succeeded', payment_intent: PI, metadata: {},
});
const declined = { last_payment_error: { type: 'card_error', code: 'card_declined', decline_code: 'generic_decline' } };

let seq = 0;
const ev = (type: string, created: number, object: unknown): StripeEventLike => ({
  id: `evt_${++seq}`, type, created, data: { object },
});

const card = (t: number) => [
  ev('payment_intent.created', t, intent('requires_payment_method')),
  ev('charge.succeeded', t + 1, charge(0)),
  ev('payment_intent.succeeded', t + 1, intent('succeeded')),
  ev('checkout.session.completed', t + 1, session('paid')),
];

const JOURNEYS: { name: string; events: StripeEventLike[]; status: OrderStatus; grants: number }[] = [
  { name: 'card success', events: card(T0), status: 'succeeded', grants: 1 },
  {
    name: 'async success',
    events: [
      ev('checkout.session.completed', T0, session('unpaid')),
      ev('payment_intent.processing', T0, intent('processing')),
      ev('payment_intent.succeeded', T0 + 3 * DAY, intent('succeeded')),
      ev('checkout.session.async_payment_succeeded', T0 + 3 * DAY, session('paid')),
    ],
    status: 'succeeded',
    grants: 1,
  },
  {
    name: 'async failure',
    events: [
      ev('checkout.session.completed', T0, session('unpaid')),
      ev('payment_intent.processing', T0, intent('processing')),
      ev('payment_intent.payment_failed', T0 + 3 * DAY, intent('requires_payment_method', declined)),
      ev('checkout.session.async_payment_failed', T0 + 3 * DAY, session('unpaid')),
    ],
    status: 'failed',
    grants: 0,
  },
  {
    name: 'decline then success',
    events: [
      ev('payment_intent.created', T0, intent('requires_payment_method')),
      ev('payment_intent.payment_failed', T0 + 1, intent('requires_payment_method', declined)),
      ev('payment_intent.succeeded', T0 + 40, intent('succeeded')),
      ev('checkout.session.completed', T0 + 40, session('paid')),
    ],
    status: 'succeeded',
    grants: 1,
  },
  {
    name: 'refund',
    events: [...card(T0), ev('charge.refunded', T0 + 2 * DAY, charge(2000))],
    status: 'refunded',
    grants: 1,
  },
];

const pending: OrderState = {
  id: 'ord_1', userId: 'usr_1', status: 'pending', handler: 'new', amount: 2000, currency: 'usd',
  checkoutSessionId: CS, paymentIntentId: null, statusAt: null, paidAt: null, amountRefunded: 0,
  disputeId: null, disputeStatus: null, statusBeforeDispute: null, reviewReason: null, failureReason: null, refunds: [],
};

/** Every index at least once, plus duplicates, in any order. */
const deliveries = (n: number) =>
  fc
    .array(fc.nat(n - 1), { maxLength: 2 * n })
    .chain((extra) => {
      const all = [...Array.from({ length: n }, (_, i) => i), ...extra];
      return fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length });
    });

describe.each(JOURNEYS)('journey: $name', ({ events, status, grants }) => {
  it(`ends ${status} with ${grants} grant(s) whatever the delivery order and duplication`, () => {
    const mapped = events.map((e) => ({ at: e.created, m: mapStripeEvent(e) }));
    fc.assert(
      fc.property(deliveries(events.length), (order) => {
        let state = pending;
        let granted = 0;
        for (const i of order) {
          const { at, m } = mapped[i]!;
          if (!m.supported) continue;
          const d = decide(state, m.command, { at, grant: GRANT });
          granted += d.effects.filter((e) => e.type === 'grant').length;
          state = d.next;
        }
        expect(state.status).toBe(status);
        expect(granted).toBe(grants);
      }),
      { numRuns: 300 },
    );
  });
});

it('only charge.succeeded is unsupported in these journeys', () => {
  const unsupported = JOURNEYS.flatMap((j) => j.events).filter((e) => !mapStripeEvent(e).supported);
  expect(new Set(unsupported.map((e) => e.type))).toEqual(new Set(['charge.succeeded']));
});
