import type { NewSubscriptionPayment, SubscriptionHistoryRow, SubscriptionPaymentRow, SubscriptionRow, SubscriptionWithOrderRow } from '@settle/db';
import {
  grantsPlan,
  isInvoiceStatus,
  isMoneyTakenBack,
  isOrderStatus,
  isPaid,
  isStripeSubscriptionStatus,
  isSubscriptionStatus,
  REFUND_STATUSES,
  type DisputeStatus,
  type OrderStatus,
  type PlanSubscription,
  type RefundStatus,
  type SubscriptionPayment,
  type SubscriptionState,
  type SubscriptionStatus,
} from '@settle/payments-core';
import type { ProductCatalogue } from './product-catalogue.js';

const toSeconds = (d: Date | string | null): number | null => (d ? Math.floor(new Date(d).getTime() / 1000) : null);
export const fromSeconds = (s: number | null): Date | null => (s === null ? null : new Date(s * 1000));
const iso = (d: Date | string | null): string | null => (d === null ? null : new Date(d).toISOString());

/** A stored subscription as payments-core decides on it (times in epoch seconds, as Stripe gives them). */
export function toSubscriptionState(row: SubscriptionRow): SubscriptionState {
  if (!isStripeSubscriptionStatus(row.stripe_status) || !isSubscriptionStatus(row.status)) {
    throw new Error(`subscription ${row.id} has unknown status ${row.stripe_status}/${row.status}`);
  }
  return {
    id: row.id,
    stripeStatus: row.stripe_status,
    status: row.status,
    cancelAtPeriodEnd: row.cancel_at_period_end,
    currentPeriodEnd: toSeconds(row.current_period_end),
    cancelAt: toSeconds(row.cancel_at),
    statusAt: toSeconds(row.status_stripe_at) ?? 0,
    priceId: row.stripe_price_id,
    plan: row.plan,
    planAt: toSeconds(row.plan_stripe_at) ?? 0,
    unknownPriceId: row.unknown_price_id,
    inferred: row.status_inferred,
  };
}

/** Paid orders whose money went back: their plan was revoked with the refund or chargeback. */
const TAKEN_BACK: readonly OrderStatus[] = ['refunded', 'charged_back'];

/**
 * A stored subscription as the entitlement sees it (`planEntitlementOf`, `grantsPlan`): its state,
 * whether its order is confirmed, and whether money went back, through one of its payments
 * (`payments` may hold other subscriptions' too) or through its order.
 */
export function toPlanSubscription(row: SubscriptionWithOrderRow, payments: readonly SubscriptionPaymentRow[]): PlanSubscription {
  const state = toSubscriptionState(row);
  const mine = payments.filter((p) => p.subscription_id === row.id);
  const orderStatus = row.order_status !== null && isOrderStatus(row.order_status) ? row.order_status : null;
  return {
    plan: state.plan,
    status: state.status,
    stripeStatus: state.stripeStatus,
    currentPeriodEnd: state.currentPeriodEnd,
    cancelAt: state.cancelAt,
    statusAt: state.statusAt,
    // The purchase's time (its order's), not the row's: rows are made in whatever order Stripe's events arrive.
    startedAt: (row.order_created_at ?? row.created_at).getTime(),
    confirmed: orderStatus !== null && isPaid(orderStatus),
    moneyTakenBack: mine.some((p) => isMoneyTakenBack(toSubscriptionPayment(p))) || (orderStatus !== null && TAKEN_BACK.includes(orderStatus)),
    moneyPaid: mine.some((p) => Number(p.amount_paid) > 0),
  };
}

const isRefundStatus = (v: string): v is RefundStatus => (REFUND_STATUSES as readonly string[]).includes(v);

/** A stored invoice of a subscription, with its refunds, as payments-core merges changes into it. */
export function toSubscriptionPayment(row: SubscriptionPaymentRow): SubscriptionPayment {
  if (!isInvoiceStatus(row.status)) throw new Error(`subscription payment ${row.invoice_id} has unknown status ${row.status}`);
  return {
    invoiceId: row.invoice_id,
    subscriptionId: row.subscription_id,
    billingReason: row.billing_reason,
    status: row.status,
    number: row.number,
    hostedInvoiceUrl: row.hosted_invoice_url,
    invoicePdf: row.invoice_pdf,
    amountDue: Number(row.amount_due),
    amountPaid: Number(row.amount_paid),
    currency: row.currency,
    periodStart: toSeconds(row.period_start),
    periodEnd: toSeconds(row.period_end),
    priceId: row.price_id,
    paymentIntentId: row.payment_intent_id,
    chargeId: row.charge_id,
    amountRefunded: Number(row.amount_refunded),
    refunds: (row.refunds ?? []).map((r) => ({
      refundId: r.refund_id,
      amount: Number(r.amount),
      status: isRefundStatus(r.status) ? r.status : 'pending',
      undoneAt: r.undone_at === null ? null : Number(r.undone_at),
    })),
    disputeId: row.dispute_id,
    disputeStatus: row.dispute_status,
    attemptCount: row.attempt_count,
    createdAt: toSeconds(row.stripe_created) ?? 0,
    paidAt: toSeconds(row.paid_at),
  };
}

/** The row `saveSubscriptionPayment` writes for a payment. */
export function toSubscriptionPaymentRow(p: SubscriptionPayment): NewSubscriptionPayment {
  return {
    invoice_id: p.invoiceId,
    subscription_id: p.subscriptionId,
    billing_reason: p.billingReason,
    status: p.status,
    number: p.number,
    hosted_invoice_url: p.hostedInvoiceUrl,
    invoice_pdf: p.invoicePdf,
    amount_due: p.amountDue,
    amount_paid: p.amountPaid,
    currency: p.currency,
    period_start: fromSeconds(p.periodStart),
    period_end: fromSeconds(p.periodEnd),
    price_id: p.priceId,
    payment_intent_id: p.paymentIntentId,
    charge_id: p.chargeId,
    amount_refunded: p.amountRefunded,
    refunds: JSON.stringify(p.refunds.map((r) => ({ refund_id: r.refundId, amount: r.amount, status: r.status, undone_at: r.undoneAt }))),
    dispute_id: p.disputeId,
    dispute_status: p.disputeStatus,
    attempt_count: p.attemptCount,
    stripe_created: new Date(p.createdAt * 1000),
    paid_at: fromSeconds(p.paidAt),
  };
}

/** One invoice of a subscription, as the console and `admin.subscriptions.get` show it. */
export type SubscriptionPaymentDto = {
  invoiceId: string;
  number: string | null;
  billingReason: string | null;
  status: string;
  amountDue: number;
  amountPaid: number;
  /** Refunded and not undone: a refund that failed or was canceled gave its amount back. */
  amountRefunded: number;
  /** Each refund reported, with its last status (`failed` and `canceled` ones no longer count). */
  refunds: { refundId: string; amount: number; status: string }[];
  currency: string;
  periodStart: string | null;
  periodEnd: string | null;
  priceId: string | null;
  paymentIntentId: string | null;
  chargeId: string | null;
  dispute: { id: string | null; status: DisputeStatus } | null;
  attemptCount: number;
  /** Charged back or refunded in full: the plan is taken while this is so. */
  moneyTakenBack: boolean;
  hostedInvoiceUrl: string | null;
  invoicePdf: string | null;
  createdAt: string;
  paidAt: string | null;
};

export type SubscriptionDto = {
  subscriptionId: string;
  userId: string;
  orderId: string | null;
  productId: string;
  plan: string | null;
  status: SubscriptionStatus;
  stripeStatus: string;
  cancelAtPeriodEnd: boolean;
  currentPeriodEnd: string | null;
  /** Stripe's scheduled cancellation, when set; it ends the subscription there even before `currentPeriodEnd`. */
  cancelAt: string | null;
  trialEnd: string | null;
  stripePriceId: string | null;
  /** Set while the item's price is not in the catalogue (the last known plan is kept). */
  reviewReason: string | null;
  /**
   * When Stripe will bill next, and about what, while the subscription renews: the last renewal
   * at the current price (it includes add-ons and lasting discounts Settle keeps no record of),
   * else the plan's catalogue price.
   */
  nextInvoice: { at: string | null; amount: number | null; currency: string | null } | null;
  /** The open invoice Stripe is retrying, while in dunning. */
  dunning: { invoiceId: string; attempts: number; amountDue: number; currency: string } | null;
  /** Whether a payment of it was charged back or refunded in full, or its order was (the plan is then taken). */
  moneyTakenBack: boolean;
  /** The status of the order that started it (null when Settle has no such order). */
  orderStatus: string | null;
  /** Whether that order is confirmed (paid; Stripe calling the subscription active is not enough). */
  orderConfirmed: boolean;
  /** Whether it entitles its user to its plan, by the entitlement's own rule (`grantsPlan`). */
  grantsPlan: boolean;
  createdAt: string;
  updatedAt: string;
};

export function toSubscriptionPaymentDto(row: SubscriptionPaymentRow): SubscriptionPaymentDto {
  const p = toSubscriptionPayment(row);
  return {
    invoiceId: p.invoiceId,
    number: p.number,
    billingReason: p.billingReason,
    status: p.status,
    amountDue: p.amountDue,
    amountPaid: p.amountPaid,
    amountRefunded: p.amountRefunded,
    refunds: p.refunds.map((r) => ({ refundId: r.refundId, amount: r.amount, status: r.status })),
    currency: p.currency,
    periodStart: iso(row.period_start),
    periodEnd: iso(row.period_end),
    priceId: p.priceId,
    paymentIntentId: p.paymentIntentId,
    chargeId: p.chargeId,
    dispute: p.disputeStatus ? { id: p.disputeId, status: p.disputeStatus } : null,
    attemptCount: p.attemptCount,
    moneyTakenBack: isMoneyTakenBack(p),
    hostedInvoiceUrl: p.hostedInvoiceUrl,
    invoicePdf: p.invoicePdf,
    createdAt: iso(row.stripe_created)!,
    paidAt: iso(row.paid_at),
  };
}

const RENEWING = ['trialing', 'active', 'past_due'];

export function toSubscriptionDto(row: SubscriptionWithOrderRow, payments: readonly SubscriptionPaymentRow[], catalogue: ProductCatalogue): SubscriptionDto {
  const mine = payments.filter((p) => p.subscription_id === row.id).map(toSubscriptionPaymentDto);
  const entitlement = toPlanSubscription(row, payments);
  const product = (row.stripe_price_id ? catalogue.byStripePrice(row.stripe_price_id) : undefined) ?? catalogue.get(row.product_id);
  const retried = mine.filter((p) => p.status === 'open' && p.attemptCount > 0).at(-1);
  const lastRenewal = mine.filter((p) => p.billingReason === 'subscription_cycle' && p.priceId === row.stripe_price_id).at(-1);
  return {
    subscriptionId: row.id,
    userId: row.user_id,
    orderId: row.order_id,
    productId: row.product_id,
    plan: row.plan,
    status: toSubscriptionState(row).status,
    stripeStatus: row.stripe_status,
    cancelAtPeriodEnd: row.cancel_at_period_end,
    currentPeriodEnd: iso(row.current_period_end),
    cancelAt: iso(row.cancel_at),
    trialEnd: iso(row.trial_end),
    stripePriceId: row.stripe_price_id,
    reviewReason: row.unknown_price_id ? `price ${row.unknown_price_id} is not in the catalogue; plan ${row.plan ?? 'none'} kept` : null,
    nextInvoice: RENEWING.includes(row.status) && !row.cancel_at_period_end
      ? lastRenewal
        ? { at: iso(row.current_period_end), amount: lastRenewal.amountDue, currency: lastRenewal.currency }
        : { at: iso(row.current_period_end), amount: product?.amount ?? null, currency: product?.currency ?? null }
      : null,
    dunning: retried && ['past_due', 'unpaid'].includes(row.status)
      ? { invoiceId: retried.invoiceId, attempts: retried.attemptCount, amountDue: retried.amountDue, currency: retried.currency }
      : null,
    moneyTakenBack: entitlement.moneyTakenBack,
    orderStatus: row.order_status,
    orderConfirmed: entitlement.confirmed,
    grantsPlan: grantsPlan(entitlement),
    createdAt: iso(row.created_at)!,
    updatedAt: iso(row.updated_at)!,
  };
}

export function toSubscriptionHistoryDto(h: SubscriptionHistoryRow) {
  return {
    id: Number(h.id),
    kind: h.kind,
    fromStatus: h.from_status,
    toStatus: h.to_status,
    fromPlan: h.from_plan,
    toPlan: h.to_plan,
    invoiceId: h.invoice_id,
    cause: h.cause,
    actor: h.actor,
    reason: h.reason,
    eventId: h.event_id,
    stripeAt: iso(h.stripe_at),
    at: iso(h.created_at)!,
  };
}
