import type { DuplicatePaymentRow, InvoiceRow, OrderRow, OrderUpdate, RefundRow, SubscriptionRow } from '@settle/db';
import { isOrderStatus, type DisputeStatus, type OrderState, type OrderStatus, type OtherRefundRecord, type RefundRecord } from '@settle/payments-core';
import { fromSeconds, toSeconds } from '../lib/epoch-seconds.js';

function status(value: string): OrderStatus {
  if (!isOrderStatus(value)) throw new Error(`order has unknown status ${value}`);
  return value;
}

/** The refunds of the order's own payment, as the state machine sees them. */
function refundRecords(row: OrderRow, refunds: readonly RefundRow[]): RefundRecord[] {
  return refunds
    .filter((r) => r.order_id === row.id && (row.payment_intent_id === null || r.payment_intent_id === row.payment_intent_id))
    .map((r) => ({ refundId: r.id, amount: Number(r.amount), status: r.status, undoneAt: toSeconds(r.undone_at) }));
}

/** The refunds of the order's duplicate payments (never the order's own). */
function otherRefundRecords(row: OrderRow, refunds: readonly RefundRow[]): OtherRefundRecord[] {
  return refunds
    .filter((r) => r.order_id === row.id && row.payment_intent_id !== null && r.payment_intent_id !== row.payment_intent_id)
    .map((r) => ({ refundId: r.id, paymentIntentId: r.payment_intent_id, amount: Number(r.amount), status: r.status, undoneAt: toSeconds(r.undone_at) }));
}

/** The order as the state machine sees it; `refunds` are its refund records (none when not loaded). */
export function toOrderState(row: OrderRow, refunds: readonly RefundRow[] = []): OrderState {
  return {
    id: row.id,
    userId: row.user_id,
    status: status(row.status),
    handler: row.handler,
    amount: Number(row.amount),
    currency: row.currency,
    checkoutSessionId: row.checkout_session_id,
    paymentIntentId: row.payment_intent_id,
    statusAt: toSeconds(row.status_stripe_at),
    paidAt: toSeconds(row.paid_at),
    amountRefunded: Number(row.amount_refunded),
    disputeId: row.dispute_id,
    disputeStatus: row.dispute_status as DisputeStatus | null,
    statusBeforeDispute: row.status_before_dispute ? status(row.status_before_dispute) : null,
    reviewReason: row.review_reason,
    failureReason: row.failure_reason,
    refunds: refundRecords(row, refunds),
    otherRefunds: otherRefundRecords(row, refunds),
  };
}

/** The columns that differ between two states of one order (empty when nothing changed). */
export function orderPatch(before: OrderState, after: OrderState): OrderUpdate {
  const patch: OrderUpdate = {};
  if (before.status !== after.status) patch.status = after.status;
  if (before.checkoutSessionId !== after.checkoutSessionId) patch.checkout_session_id = after.checkoutSessionId;
  if (before.paymentIntentId !== after.paymentIntentId) patch.payment_intent_id = after.paymentIntentId;
  if (before.statusAt !== after.statusAt) patch.status_stripe_at = fromSeconds(after.statusAt);
  if (before.paidAt !== after.paidAt) patch.paid_at = fromSeconds(after.paidAt);
  if (before.amountRefunded !== after.amountRefunded) patch.amount_refunded = after.amountRefunded;
  if (before.disputeId !== after.disputeId) patch.dispute_id = after.disputeId;
  if (before.disputeStatus !== after.disputeStatus) patch.dispute_status = after.disputeStatus;
  if (before.statusBeforeDispute !== after.statusBeforeDispute) patch.status_before_dispute = after.statusBeforeDispute;
  if (before.reviewReason !== after.reviewReason) patch.review_reason = after.reviewReason;
  if (before.failureReason !== after.failureReason) patch.failure_reason = after.failureReason;
  return patch;
}

/** The public order shape of the contract: money in minor units, ISO-8601 times. */
export type OrderDto = {
  orderId: string;
  userId: string;
  productId: string;
  quantity: number;
  amount: number;
  currency: string;
  status: OrderStatus;
  handler: 'legacy' | 'new';
  checkoutSessionId: string | null;
  paymentIntentId: string | null;
  createdAt: string;
  updatedAt: string;
  paidAt: string | null;
  amountRefunded: number;
  reviewReason: string | null;
  failureReason: string | null;
  invoice: { id: string; number: string | null; url: string | null; pdfUrl: string | null; status: string | null } | null;
  mode: 'payment' | 'subscription';
  /** The subscription a subscription-mode order started, once Stripe has told of it. */
  subscription: { id: string; plan: string | null; status: string; currentPeriodEnd: string | null; cancelAtPeriodEnd: boolean } | null;
};

export function toOrderDto(row: OrderRow, invoice?: InvoiceRow, subscription?: SubscriptionRow): OrderDto {
  return {
    orderId: row.id,
    userId: row.user_id,
    productId: row.product_id,
    quantity: row.quantity,
    amount: Number(row.amount),
    currency: row.currency,
    status: status(row.status),
    handler: row.handler,
    checkoutSessionId: row.checkout_session_id,
    paymentIntentId: row.payment_intent_id,
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
    paidAt: row.paid_at ? new Date(row.paid_at).toISOString() : null,
    amountRefunded: Number(row.amount_refunded),
    reviewReason: row.review_reason,
    failureReason: row.failure_reason,
    invoice: invoice
      ? { id: invoice.id, number: invoice.number, url: invoice.hosted_invoice_url, pdfUrl: invoice.invoice_pdf, status: invoice.status }
      : null,
    mode: row.mode,
    subscription: subscription
      ? {
          id: subscription.id,
          plan: subscription.plan,
          status: subscription.status,
          currentPeriodEnd: subscription.current_period_end ? new Date(subscription.current_period_end).toISOString() : null,
          cancelAtPeriodEnd: subscription.cancel_at_period_end,
        }
      : null,
  };
}

export type RefundDto = {
  refundId: string;
  paymentIntentId: string;
  amount: number;
  currency: string;
  status: RefundRow['status'];
  reason: string | null;
  failureReason: string | null;
  createdAt: string;
  undoneAt: string | null;
};

export function toRefundDto(r: RefundRow): RefundDto {
  return {
    refundId: r.id,
    paymentIntentId: r.payment_intent_id,
    amount: Number(r.amount),
    currency: r.currency,
    status: r.status,
    reason: r.reason,
    failureReason: r.failure_reason,
    createdAt: new Date(r.stripe_created).toISOString(),
    undoneAt: r.undone_at ? new Date(r.undone_at).toISOString() : null,
  };
}

/** A duplicate payment as `admin.orders.get` shows it (contract: `{paymentIntentId, amount, currency, at}`). */
export type DuplicatePaymentDto = { paymentIntentId: string; amount: number; currency: string; at: string; amountRefunded: number };

export function toDuplicatePaymentDto(d: DuplicatePaymentRow): DuplicatePaymentDto {
  return {
    paymentIntentId: d.payment_intent_id,
    amount: Number(d.amount),
    currency: d.currency,
    at: new Date(d.paid_at).toISOString(),
    amountRefunded: Number(d.amount_refunded),
  };
}
