import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decide } from './decide.js';
import type { OrderState } from './order-state.js';
import type { PaymentCommand } from './payment-command.js';
import { mapStripeEvent, type StripeEventLike } from './stripe-event.mapper.js';
import {
  isMoneyTakenBack,
  mergeSubscriptionPayment,
  paymentFromInvoice,
  type SubscriptionPayment,
  type SubscriptionPaymentChange,
} from './subscription-payment.js';
import { decideSubscription, firstInvoiceFacts, planEntitlementOf, type SubscriptionFacts, type SubscriptionState } from './subscription-state.js';
import { LIFECYCLES, buildLifecycle, type Lifecycle } from './testing/subscription-lifecycles.js';

const T0 = 1_760_000_000;
const PRICES: Record<string, string> = { price_hobby_monthly: 'hobby', price_pro_monthly: 'pro' };
const planOfPrice = (priceId: string) => PRICES[priceId] ?? null;

/**
 * Settle's subscription path, without a database: one order, one subscription, its payments.
 * Each event is applied as the API applies it; an event whose payment is not known yet is kept
 * and tried again after every later event (the inbox's retries), so it lands exactly once.
 */
type Model = { plan: string; order: OrderState; sub: SubscriptionState | null; payments: Map<string, SubscriptionPayment>; waiting: PaymentCommand[] };

function moneyChange(c: PaymentCommand, at: number): { pi: string; change: SubscriptionPaymentChange } | null {
  if (c.type === 'charge_refunded') return { pi: c.paymentIntentId, change: { kind: 'refunded', amountRefunded: c.amountRefunded, at } };
  if (c.type === 'refund_changed') return { pi: c.paymentIntentId, change: { kind: 'refund', refundId: c.refund.refundId, amount: c.refund.amount, status: c.refund.status, at } };
  if (c.type === 'dispute_opened') return { pi: c.paymentIntentId, change: { kind: 'dispute', disputeId: c.disputeId, status: 'open' } };
  if (c.type === 'dispute_closed') return { pi: c.paymentIntentId, change: { kind: 'dispute', disputeId: c.disputeId, status: c.outcome } };
  return null;
}

function applySubscriptionFacts(m: Model, facts: SubscriptionFacts, at: number) {
  m.sub = decideSubscription(m.sub, facts, at, planOfPrice, m.plan).next;
}

/** Whether the command landed (false: its payment is not known yet). */
function apply(m: Model, c: PaymentCommand, at: number): boolean {
  if (c.type === 'subscription_changed') {
    applySubscriptionFacts(m, c.subscription, at);
    return true;
  }
  if (c.type === 'invoice_payment_linked') {
    const p = m.payments.get(c.invoiceId);
    if (!p) return false;
    m.payments.set(p.invoiceId, mergeSubscriptionPayment(p, { kind: 'linked', paymentIntentId: c.paymentIntentId, chargeId: c.chargeId }));
    // The first invoice's money is the order's payment (the API links it to the order).
    if (p.billingReason === 'subscription_create' && !m.order.paymentIntentId) m.order = { ...m.order, paymentIntentId: c.paymentIntentId };
    return true;
  }
  // A plan is confirmed by its paid invoice alone: its PaymentIntents' attempts do not move the order.
  if (c.type.startsWith('payment_')) return true;
  const money = moneyChange(c, at);
  if (money) {
    const p = [...m.payments.values()].find((x) => x.paymentIntentId === money.pi);
    if (!p) return false;
    m.payments.set(p.invoiceId, mergeSubscriptionPayment(p, money.change));
    return true;
  }
  if ('invoice' in c && c.invoice.subscriptionId) {
    const known = m.payments.get(c.invoice.invoiceId);
    m.payments.set(c.invoice.invoiceId, known ? mergeSubscriptionPayment(known, { kind: 'invoice', invoice: c.invoice }) : paymentFromInvoice(c.invoice, c.invoice.subscriptionId));
    if (c.type === 'subscription_invoice_paid' && c.billingReason === 'subscription_create') {
      m.order = decide(m.order, c, { at, grant: { kind: 'plan', plan: m.plan } }).next;
      applySubscriptionFacts(m, firstInvoiceFacts(c.invoice, c.subscriptionId, { orderId: m.order.id, userId: m.order.userId }), at);
    }
    return true;
  }
  m.order = decide(m.order, c, { at, grant: { kind: 'plan', plan: m.plan } }).next;
  return true;
}

const AMOUNTS: Record<string, number> = { hobby: 999, pro: 1999 };

function run(events: readonly StripeEventLike[], plan: string) {
  const m: Model = {
    plan,
    order: {
      id: 'ord_1', userId: 'user_1', status: 'pending', handler: 'new', amount: AMOUNTS[plan]!, currency: 'usd', checkoutSessionId: null, paymentIntentId: null,
      statusAt: null, paidAt: null, amountRefunded: 0, disputeId: null, disputeStatus: null, statusBeforeDispute: null, reviewReason: null, failureReason: null,
    },
    sub: null,
    payments: new Map(),
    waiting: [],
  };
  const waiting: { c: PaymentCommand; at: number }[] = [];
  for (const e of events) {
    const mapped = mapStripeEvent(e);
    if (!mapped.supported) continue;
    if (!apply(m, mapped.command, e.created)) waiting.push({ c: mapped.command, at: e.created });
    for (let i = 0; i < waiting.length; i++) {
      if (apply(m, waiting[i]!.c, waiting[i]!.at)) waiting.splice(i--, 1);
    }
  }
  const payments = [...m.payments.values()].sort((a, b) => a.invoiceId.localeCompare(b.invoiceId));
  const entitlement = m.sub
    ? planEntitlementOf([{
        plan: m.sub.plan, status: m.sub.status, stripeStatus: m.sub.stripeStatus, currentPeriodEnd: m.sub.currentPeriodEnd, cancelAt: m.sub.cancelAt, statusAt: m.sub.statusAt,
        confirmed: m.order.status === 'succeeded', moneyTakenBack: payments.some(isMoneyTakenBack), moneyPaid: payments.some((p) => p.amountPaid > 0),
      }])
    : null;
  return { sub: m.sub, payments, entitlement, orderStatus: m.order.status, waiting: waiting.length };
}

/** A delivery: every event at least once (some twice), in any order. */
const delivery = (events: readonly StripeEventLike[]) =>
  fc.tuple(fc.array(fc.nat({ max: events.length - 1 }), { maxLength: events.length }), fc.array(fc.nat(), { minLength: events.length * 2, maxLength: events.length * 2 }))
    .map(([dupes, keys]) => {
      const all = [...events, ...dupes.map((i) => events[i]!)];
      return all.map((e, i) => ({ e, k: keys[i] ?? 0 })).sort((a, b) => a.k - b.k).map((x) => x.e);
    });

describe.each(LIFECYCLES)('subscription lifecycle %s', (lifecycle: Lifecycle) => {
  const built = buildLifecycle(lifecycle, { orderId: 'ord_1', userId: 'user_1', suffix: 'x', t0: T0, renewals: 3 });

  it('in Stripe’s order ends as expected', () => {
    const r = run(built.events, built.expected.startPlan);
    expect(r.waiting).toBe(0);
    expect(r.orderStatus).toBe('succeeded');
    expect(r.sub).toMatchObject({ status: built.expected.subscriptionStatus, plan: built.expected.subscriptionPlan });
    expect(r.sub?.unknownPriceId !== null).toBe(built.expected.review);
    expect(r.entitlement).toMatchObject({ plan: built.expected.plan, subscriptionStatus: built.expected.subscriptionStatus });
    expect(r.payments).toHaveLength(built.expected.invoices);
    expect(r.payments.filter((p) => p.status === 'paid')).toHaveLength(built.expected.paidInvoices);
  });

  it('in any order, with duplicates, ends the same', () => {
    const expected = run(built.events, built.expected.startPlan);
    fc.assert(fc.property(delivery(built.events), (events) => {
      expect(run(events, built.expected.startPlan)).toEqual(expected);
    }), { numRuns: 150 });
  });
});
