/**
 * Scripted subscription journeys: what Stripe sends when Checkout starts a subscription and what
 * follows over its billing periods, in current (basil and later) shapes (see subscription-objects.ts).
 * Every invoice with money due is collected by a PaymentIntent that does not name the invoice;
 * `invoice_payment.paid` links them.
 */
import { event, type StripeEvent } from './stripe-events.js';
import {
  SUBSCRIPTION_PERIOD_S, subscriptionObjects, type InvoiceLine, type PlanPrice, type SubscriptionJourneyInput,
} from './subscription-objects.js';

export { SUBSCRIPTION_PERIOD_S, type PlanPrice, type SubscriptionJourneyInput } from './subscription-objects.js';

/** The first subscription journeys; Settle's tests hold an expected outcome for each. */
export const SUBSCRIPTION_JOURNEYS = ['subscription_renew', 'subscription_past_due', 'subscription_cancel'] as const;
/** Whole plan lifecycles: trials, dunning, plan changes, refunds and disputes of renewals, a $0 first invoice. */
export const SUBSCRIPTION_LIFECYCLE_JOURNEYS = [
  'subscription_trial_active',
  'subscription_trial_canceled',
  'subscription_trial_paused',
  'subscription_dunning_unpaid',
  'subscription_upgrade',
  'subscription_downgrade',
  'subscription_renewal_refund',
  'subscription_renewal_refund_failed',
  'subscription_renewal_dispute_lost',
  'subscription_free_first_invoice',
] as const;
export type SubscriptionJourney = (typeof SUBSCRIPTION_JOURNEYS)[number] | (typeof SUBSCRIPTION_LIFECYCLE_JOURNEYS)[number];

export function isSubscriptionJourney(journey: string): journey is SubscriptionJourney {
  return (SUBSCRIPTION_JOURNEYS as readonly string[]).includes(journey) || (SUBSCRIPTION_LIFECYCLE_JOURNEYS as readonly string[]).includes(journey);
}

/** What Settle must end with after one of the first subscription journeys. */
export type SubscriptionJourneyExpectation = {
  /** Settle's exposed subscription status. */
  subscriptionStatus: 'active' | 'past_due' | 'cancel_at_period_end' | 'canceled';
  /** Whether the user keeps the plan. */
  entitled: boolean;
  invoices: number;
  paidInvoices: number;
  orderStatus: string;
  /** The current period ends this many periods after the journey's start. */
  periodEndAfterPeriods: number;
};

export const EXPECTED_SUBSCRIPTION_OUTCOME: Record<(typeof SUBSCRIPTION_JOURNEYS)[number], SubscriptionJourneyExpectation> = {
  subscription_renew: { subscriptionStatus: 'active', entitled: true, invoices: 2, paidInvoices: 2, orderStatus: 'succeeded', periodEndAfterPeriods: 2 },
  subscription_past_due: { subscriptionStatus: 'past_due', entitled: true, invoices: 2, paidInvoices: 1, orderStatus: 'succeeded', periodEndAfterPeriods: 2 },
  subscription_cancel: { subscriptionStatus: 'canceled', entitled: false, invoices: 1, paidInvoices: 1, orderStatus: 'succeeded', periodEndAfterPeriods: 1 },
};

/** Where Stripe leaves the subscription after a journey (what its API answers), not what Settle decides. */
export type StripeSubscriptionEnd = {
  status: 'active' | 'past_due' | 'canceled' | 'unpaid' | 'paused';
  invoices: number;
  paidInvoices: number;
  /** The item's price at the end: the session's, or the journey's target price (upgrade/downgrade). */
  price: 'plan' | 'target';
};

export const STRIPE_SUBSCRIPTION_END: Record<SubscriptionJourney, StripeSubscriptionEnd> = {
  subscription_renew: { status: 'active', invoices: 2, paidInvoices: 2, price: 'plan' },
  subscription_past_due: { status: 'past_due', invoices: 2, paidInvoices: 1, price: 'plan' },
  subscription_cancel: { status: 'canceled', invoices: 1, paidInvoices: 1, price: 'plan' },
  subscription_trial_active: { status: 'active', invoices: 2, paidInvoices: 2, price: 'plan' },
  subscription_trial_canceled: { status: 'canceled', invoices: 2, paidInvoices: 1, price: 'plan' },
  subscription_trial_paused: { status: 'paused', invoices: 1, paidInvoices: 1, price: 'plan' },
  subscription_dunning_unpaid: { status: 'unpaid', invoices: 2, paidInvoices: 1, price: 'plan' },
  subscription_upgrade: { status: 'active', invoices: 2, paidInvoices: 2, price: 'target' },
  subscription_downgrade: { status: 'active', invoices: 2, paidInvoices: 2, price: 'target' },
  subscription_renewal_refund: { status: 'active', invoices: 2, paidInvoices: 2, price: 'plan' },
  subscription_renewal_refund_failed: { status: 'active', invoices: 2, paidInvoices: 2, price: 'plan' },
  subscription_renewal_dispute_lost: { status: 'active', invoices: 2, paidInvoices: 2, price: 'plan' },
  subscription_free_first_invoice: { status: 'active', invoices: 2, paidInvoices: 2, price: 'plan' },
};

const DAY = 86_400;
const DEFAULT_TRIAL_DAYS = 14;

/**
 * The events Stripe emits for a subscription journey: Checkout starts the subscription (paid,
 * trialing or free), then the journey's months follow.
 */
export function subscriptionJourneyEvents(journey: SubscriptionJourney, input: SubscriptionJourneyInput): StripeEvent[] {
  const o = subscriptionObjects(input);
  const suffix = input.idSuffix ?? '';
  const t = input.startAt;
  const plan = o.plan;
  const e = (type: string, at: number, obj: Record<string, unknown>, previous?: Record<string, unknown>): StripeEvent => event(type, at, obj, suffix, previous);
  type InvoiceArgs = Omit<Parameters<typeof o.invoice>[0], 'status' | 'at' | 'attempts' | 'nextAttempt'>;
  const dueOf = (inv: InvoiceArgs) => o.invoice({ ...inv, status: 'draft', at: 0 }).amount_due;

  const session = (invoiceId: string, paymentStatus: 'paid' | 'no_payment_required', amountTotal = input.amount) => ({
    id: input.checkoutSessionId, object: 'checkout.session', amount_subtotal: input.amount, amount_total: amountTotal, created: t,
    currency: input.currency, customer: input.customerId ?? null, invoice: invoiceId, livemode: false, metadata: { orderId: input.orderId },
    mode: 'subscription', payment_intent: null, payment_status: paymentStatus, status: 'complete', subscription: o.sub,
    total_details: { amount_discount: input.amount - amountTotal, amount_shipping: 0, amount_tax: 0 },
  });

  /** Collect an invoice at `at`: with a PaymentIntent and a charge when money is due, at once when nothing is. */
  const paid = (inv: InvoiceArgs, at: number, description: string) => {
    const due = dueOf(inv);
    const done = o.invoice({ ...inv, status: 'paid', at, attempts: due > 0 ? 1 : 0 });
    if (due === 0) return { events: [e('invoice.paid', at, done), e('invoice.payment_succeeded', at, done)], charge: null };
    const c = o.collection(inv.id, due, at, description);
    const chargeId = c.newCharge();
    return {
      events: [
        e('payment_intent.created', at, c.intent('requires_payment_method')),
        e('charge.succeeded', at, c.charge(chargeId, 'succeeded', at)),
        e('payment_intent.succeeded', at, c.intent('succeeded', { charge: chargeId })),
        e('invoice_payment.paid', at, c.invoicePayment('paid', at)),
        e('invoice.paid', at, done),
        e('invoice.payment_succeeded', at, done),
      ],
      charge: { id: chargeId, object: (extra: Record<string, unknown>) => c.charge(chargeId, 'succeeded', at, extra), pi: c.pi, amount: due },
    };
  };

  /** Stripe's retries of an invoice that will not be paid: one failed charge per attempt, at `times`. */
  const failedAttempts = (inv: InvoiceArgs, times: number[], description: string, afterFirst: StripeEvent[] = []) => {
    const c = o.collection(inv.id, dueOf(inv), times[0]!, description);
    return times.flatMap((at, k) => {
      const chargeId = c.newCharge();
      const error = { type: 'card_error', code: 'card_declined', decline_code: 'insufficient_funds', message: 'Your card has insufficient funds.', charge: chargeId };
      return [
        ...(k === 0 ? [e('payment_intent.created', at, c.intent('requires_payment_method'))] : []),
        e('charge.failed', at, c.charge(chargeId, 'failed', at)),
        e('payment_intent.payment_failed', at, c.intent('requires_payment_method', { charge: chargeId, error })),
        e('invoice.payment_failed', at, o.invoice({ ...inv, status: 'open', at, attempts: k + 1, nextAttempt: times[k + 1] ?? null })),
        ...(k === 0 ? afterFirst : []),
      ];
    });
  };

  const first = o.newInvoice();
  const second = o.newInvoice();
  const firstInvoice: InvoiceArgs = { id: first, reason: 'subscription_create', periodStart: t };
  const start = (): StripeEvent[] => {
    const collected = paid(firstInvoice, t + 1, 'Subscription creation');
    return [
      e('customer.subscription.created', t, o.subscription('incomplete', { periodStart: t, latest_invoice: first })),
      e('invoice.created', t, o.invoice({ ...firstInvoice, status: 'draft', at: t })),
      e('invoice.finalized', t, o.invoice({ ...firstInvoice, status: 'open', at: t })),
      ...collected.events,
      e('customer.subscription.updated', t + 1, o.subscription('active', { periodStart: t, latest_invoice: first }), { status: 'incomplete' }),
      e('checkout.session.completed', t + 1, session(first, 'paid')),
    ];
  };

  /** The next period begins: a draft invoice, the subscription's period moves, the invoice is charged an hour later. */
  const renewalHead = (periodStart: number, price: PlanPrice, previousStart: number, previousPrice: PlanPrice, previousInvoice: string, extra: Record<string, unknown> = {}) => {
    const inv: InvoiceArgs = { id: second, reason: 'subscription_cycle', periodStart, price };
    const previousItems = o.subscription('active', { price: previousPrice, periodStart: previousStart, periodEnd: periodStart }).items;
    return {
      inv,
      charged: periodStart + 3600,
      events: [
        e('invoice.created', periodStart, o.invoice({ ...inv, status: 'draft', at: periodStart })),
        e('customer.subscription.updated', periodStart, o.subscription('active', { price, periodStart, latest_invoice: second, ...extra }), { items: previousItems, latest_invoice: previousInvoice }),
      ],
    };
  };
  const renewed = (price = plan, previousPrice = plan) => {
    const head = renewalHead(t + SUBSCRIPTION_PERIOD_S, price, t, previousPrice, first);
    const collected = paid(head.inv, head.charged, 'Subscription update');
    return { events: [...head.events, e('invoice.finalized', head.charged, o.invoice({ ...head.inv, status: 'open', at: head.charged })), ...collected.events], charge: collected.charge };
  };

  const trialDays = input.trialDays ?? DEFAULT_TRIAL_DAYS;
  const trialEnd = t + trialDays * DAY;
  const trialing = { trial_start: t, trial_end: trialEnd };
  /** Checkout starts a trial: the subscription is `trialing` and its first invoice, for $0, is paid at once. */
  const trialStart = (): StripeEvent[] => {
    const lines: InvoiceLine[] = [{ amount: 0, price: plan, start: t, end: trialEnd, description: `Trial period for ${plan.name}` }];
    const inv: InvoiceArgs = { ...firstInvoice, lines };
    return [
      e('customer.subscription.created', t, o.subscription('trialing', { periodStart: t, periodEnd: trialEnd, latest_invoice: first, ...trialing })),
      e('invoice.created', t, o.invoice({ ...inv, status: 'draft', at: t })),
      e('invoice.finalized', t, o.invoice({ ...inv, status: 'open', at: t })),
      ...paid(inv, t, 'Subscription creation').events,
      e('checkout.session.completed', t, session(first, 'no_payment_required', 0)),
      // Three days before the trial ends, or at once for a shorter trial.
      e('customer.subscription.trial_will_end', Math.max(t, trialEnd - 3 * DAY), o.subscription('trialing', { periodStart: t, periodEnd: trialEnd, latest_invoice: first, ...trialing })),
    ];
  };
  /** The trial ends: a new period from the trial's end, billed at once. */
  const trialEnds = () => {
    const inv: InvoiceArgs = { id: second, reason: 'subscription_cycle', periodStart: trialEnd };
    const anchor = { billing_cycle_anchor: trialEnd, ...trialing };
    const before = o.subscription('trialing', { periodStart: t, periodEnd: trialEnd, ...trialing });
    return {
      inv,
      anchor,
      events: [
        e('invoice.created', trialEnd, o.invoice({ ...inv, status: 'draft', at: trialEnd })),
        e('customer.subscription.updated', trialEnd, o.subscription('active', { periodStart: trialEnd, latest_invoice: second, ...anchor }), { status: 'trialing', items: before.items, latest_invoice: first }),
        e('invoice.finalized', trialEnd + 3600, o.invoice({ ...inv, status: 'open', at: trialEnd + 3600 })),
      ],
    };
  };

  const target: PlanPrice = input.targetPrice ?? {
    id: o.newId('price'),
    product: o.newId('prod'),
    amount: journey === 'subscription_downgrade' ? Math.floor(input.amount / 2) : input.amount * 2,
    name: journey === 'subscription_downgrade' ? 'downgraded plan' : 'upgraded plan',
  };
  const changedAt = t + 10 * DAY;
  const planChanged = e('customer.subscription.updated', changedAt, o.subscription('active', { price: target, periodStart: t, latest_invoice: first }), { items: o.subscription('active', { periodStart: t }).items });

  switch (journey) {
    case 'subscription_renew':
      return [...start(), ...renewed().events];
    case 'subscription_past_due': {
      const head = renewalHead(t + SUBSCRIPTION_PERIOD_S, plan, t, plan, first);
      const pastDue = e('customer.subscription.updated', head.charged, o.subscription('past_due', { periodStart: head.inv.periodStart, latest_invoice: second }), { status: 'active' });
      return [...start(), ...head.events, e('invoice.finalized', head.charged, o.invoice({ ...head.inv, status: 'open', at: head.charged })), ...failedAttempts(head.inv, [head.charged], 'Subscription update', [pastDue])];
    }
    case 'subscription_cancel': {
      const asked = t + 10 * DAY;
      const cancelAt = t + SUBSCRIPTION_PERIOD_S;
      const scheduled = { latest_invoice: first, cancel_at: cancelAt, cancel_at_period_end: true, canceled_at: asked, cancellation_details: { comment: null, feedback: 'too_expensive', reason: 'cancellation_requested' } };
      return [
        ...start(),
        e('customer.subscription.updated', asked, o.subscription('active', { periodStart: t, ...scheduled }), { cancel_at: null, cancel_at_period_end: false, canceled_at: null }),
        e('customer.subscription.deleted', cancelAt, o.subscription('canceled', { periodStart: t, ...scheduled, ended_at: cancelAt })),
      ];
    }
    case 'subscription_trial_active': {
      const ends = trialEnds();
      return [...trialStart(), ...ends.events, ...paid(ends.inv, trialEnd + 3600, 'Subscription update').events];
    }
    case 'subscription_trial_canceled': {
      // The trial ends, the card on file is declined on every retry, and Stripe cancels (the account's dunning setting).
      const ends = trialEnds();
      const times = [trialEnd + 3600, trialEnd + 3 * DAY, trialEnd + 5 * DAY];
      const pastDue = e('customer.subscription.updated', times[0]!, o.subscription('past_due', { periodStart: trialEnd, latest_invoice: second, ...ends.anchor }), { status: 'active' });
      const ended = times.at(-1)!;
      const canceled = { canceled_at: ended, ended_at: ended, cancellation_details: { comment: null, feedback: null, reason: 'payment_failed' } };
      return [
        ...trialStart(),
        ...ends.events,
        ...failedAttempts(ends.inv, times, 'Subscription update', [pastDue]),
        e('customer.subscription.deleted', ended, o.subscription('canceled', { periodStart: trialEnd, latest_invoice: second, ...ends.anchor, ...canceled })),
      ];
    }
    case 'subscription_trial_paused': {
      // Checkout took no card (payment_method_collection: if_required) and the trial's end
      // behaviour for a missing payment method is \`pause\`: no invoice, the subscription pauses.
      const noCard = (ev: StripeEvent): StripeEvent =>
        ev.data.object.object === 'subscription' ? { ...ev, data: { ...ev.data, object: { ...ev.data.object, default_payment_method: null } } } : ev;
      const paused = { ...o.subscription('paused', { periodStart: t, periodEnd: trialEnd, latest_invoice: first, ...trialing }), default_payment_method: null };
      return [
        ...trialStart().map(noCard),
        e('customer.subscription.paused', trialEnd, paused),
        e('customer.subscription.updated', trialEnd, paused, { status: 'trialing' }),
      ];
    }
    case 'subscription_dunning_unpaid': {
      // Every retry fails; the account's dunning setting leaves the subscription `unpaid` (the invoice stays open).
      const head = renewalHead(t + SUBSCRIPTION_PERIOD_S, plan, t, plan, first);
      const times = [head.charged, head.charged + 3 * DAY, head.charged + 5 * DAY, head.charged + 7 * DAY];
      const periodStart = head.inv.periodStart;
      const pastDue = e('customer.subscription.updated', times[0]!, o.subscription('past_due', { periodStart, latest_invoice: second }), { status: 'active' });
      return [
        ...start(),
        ...head.events,
        e('invoice.finalized', head.charged, o.invoice({ ...head.inv, status: 'open', at: head.charged })),
        ...failedAttempts(head.inv, times, 'Subscription update', [pastDue]),
        e('customer.subscription.updated', times.at(-1)!, o.subscription('unpaid', { periodStart, latest_invoice: second }), { status: 'past_due' }),
      ];
    }
    case 'subscription_upgrade': {
      // The item moves to the higher price at once; the unused time is credited and the rest of the period charged.
      const remaining = (t + SUBSCRIPTION_PERIOD_S - changedAt) / SUBSCRIPTION_PERIOD_S;
      const end = t + SUBSCRIPTION_PERIOD_S;
      const lines: InvoiceLine[] = [
        { amount: -Math.round(plan.amount * remaining), price: plan, start: changedAt, end, proration: true, description: `Unused time on ${plan.name}` },
        { amount: Math.round(target.amount * remaining), price: target, start: changedAt, end, proration: true, description: `Remaining time on ${target.name}` },
      ];
      const inv: InvoiceArgs = { id: second, reason: 'subscription_update', periodStart: changedAt, price: target, lines };
      return [
        ...start(),
        planChanged,
        e('invoice.created', changedAt, o.invoice({ ...inv, status: 'draft', at: changedAt })),
        e('invoice.finalized', changedAt, o.invoice({ ...inv, status: 'open', at: changedAt })),
        ...paid(inv, changedAt, 'Subscription update').events,
      ];
    }
    case 'subscription_downgrade':
      // The item moves to the lower price without proration; the next period is billed at it.
      return [...start(), planChanged, ...renewed(target, target).events];
    case 'subscription_renewal_refund':
    case 'subscription_renewal_refund_failed': {
      const renewal = renewed();
      const charge = renewal.charge!;
      const at = t + SUBSCRIPTION_PERIOD_S + DAY;
      const refund = { id: o.newId('re'), object: 'refund', amount: charge.amount, charge: charge.id, created: at, currency: input.currency, metadata: {}, payment_intent: charge.pi, reason: 'requested_by_customer', status: 'succeeded' };
      const refunded = [
        ...start(),
        ...renewal.events,
        e('refund.created', at, refund),
        e('charge.refunded', at, charge.object({ amount_refunded: charge.amount, refunded: true }), { amount_refunded: 0, refunded: false }),
        e('refund.updated', at + 1, refund),
      ];
      if (journey === 'subscription_renewal_refund') return refunded;
      // The customer's card was closed: days later the refund fails and the money stays with the merchant.
      const failedAt = at + 3 * DAY;
      const failed = { ...refund, status: 'failed', failure_reason: 'expired_or_canceled_card' };
      return [
        ...refunded,
        e('refund.failed', failedAt, failed, { status: 'succeeded' }),
        e('refund.updated', failedAt, failed, { status: 'succeeded' }),
        e('charge.refund.updated', failedAt, failed, { status: 'succeeded' }),
        e('charge.updated', failedAt, charge.object({ amount_refunded: 0, refunded: false }), { amount_refunded: charge.amount, refunded: true }),
      ];
    }
    case 'subscription_renewal_dispute_lost': {
      const renewal = renewed();
      const charge = renewal.charge!;
      const opened = t + SUBSCRIPTION_PERIOD_S + 2 * DAY;
      const dp = o.newId('dp');
      const dispute = (status: string, at: number) => ({
        id: dp, object: 'dispute', amount: charge.amount, charge: charge.id, created: opened, currency: input.currency, payment_intent: charge.pi,
        reason: 'fraudulent', status, is_charge_refundable: false, livemode: false, metadata: {},
        evidence_details: { due_by: opened + 7 * DAY, has_evidence: false, past_due: false, submission_count: 0 },
      });
      return [
        ...start(),
        ...renewal.events,
        e('charge.dispute.created', opened, dispute('needs_response', opened)),
        e('charge.dispute.updated', opened + 3600, dispute('under_review', opened + 3600)),
        e('charge.dispute.closed', opened + 20 * DAY, dispute('lost', opened + 20 * DAY)),
      ];
    }
    case 'subscription_free_first_invoice': {
      // A 100%-off first month (a coupon): the first invoice is $0 and paid without a payment; the next one costs the full price.
      const inv: InvoiceArgs = { ...firstInvoice, discount: input.amount };
      return [
        e('customer.subscription.created', t, o.subscription('active', { periodStart: t, latest_invoice: first })),
        e('invoice.created', t, o.invoice({ ...inv, status: 'draft', at: t })),
        e('invoice.finalized', t, o.invoice({ ...inv, status: 'open', at: t })),
        ...paid(inv, t, 'Subscription creation').events,
        e('checkout.session.completed', t, session(first, 'no_payment_required', 0)),
        ...renewed().events,
      ];
    }
  }
}
