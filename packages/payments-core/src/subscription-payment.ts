import { chargeRefundedTotal, isUndoneRefundStatus, liveRefundTotal, type DisputeStatus, type RefundRecord } from './order-state.js';
import type { InvoiceFacts, RefundStatus } from './payment-command.js';

/**
 * Every invoice of a subscription is one payment of it: what Stripe billed (amount, currency,
 * period, billing reason), whether it was paid, with which PaymentIntent and charge, and what
 * went back (refunds, a dispute). Facts arrive in any order and any number of times, so each
 * field merges by a rule that is commutative and idempotent: the result of any delivery order,
 * with any duplicates, is the same.
 */

/** Stripe's invoice statuses, in lifecycle order (`paid`, `void` and `uncollectible` end it). */
export const INVOICE_STATUSES = ['draft', 'open', 'uncollectible', 'void', 'paid'] as const;
export type InvoiceStatus = (typeof INVOICE_STATUSES)[number];

export function isInvoiceStatus(v: unknown): v is InvoiceStatus {
  return typeof v === 'string' && (INVOICE_STATUSES as readonly string[]).includes(v);
}

export type SubscriptionPayment = {
  invoiceId: string;
  subscriptionId: string;
  billingReason: string | null;
  status: InvoiceStatus;
  number: string | null;
  hostedInvoiceUrl: string | null;
  invoicePdf: string | null;
  amountDue: number;
  amountPaid: number;
  currency: string;
  /** The period the invoice's subscription lines bill (epoch seconds). */
  periodStart: number | null;
  periodEnd: number | null;
  priceId: string | null;
  paymentIntentId: string | null;
  chargeId: string | null;
  /** What went back to the customer: Stripe's refunded total, less refunds that failed or were canceled since. */
  amountRefunded: number;
  /** Each refund of this payment as last reported; `undoneAt` (Stripe time) once it failed or was canceled. */
  refunds: readonly RefundRecord[];
  disputeId: string | null;
  disputeStatus: DisputeStatus | null;
  attemptCount: number;
  /** Stripe times, epoch seconds. */
  createdAt: number;
  paidAt: number | null;
};

/** One fact about a subscription payment. */
export type SubscriptionPaymentChange =
  | { kind: 'invoice'; invoice: InvoiceFacts }
  /** `invoice_payment.paid` (or an older invoice naming its PaymentIntent/charge): the money behind the invoice. */
  | { kind: 'linked'; paymentIntentId: string | null; chargeId: string | null }
  /** `charge.refunded`: the charge's refunded total as at `at` (Stripe time, epoch seconds). */
  | { kind: 'refunded'; amountRefunded: number; at: number }
  /** `refund.*`: one refund created or moved, as at `at`; failed and canceled are final at Stripe. */
  | { kind: 'refund'; refundId: string; amount: number; status: RefundStatus; at: number }
  | { kind: 'dispute'; disputeId: string; status: DisputeStatus };

const STATUS_ORDER: Readonly<Record<InvoiceStatus, number>> = { draft: 0, open: 1, uncollectible: 2, void: 3, paid: 4 };
const DISPUTE_ORDER: Readonly<Record<DisputeStatus, number>> = { open: 0, won: 1, prevented: 1, lost: 2 };

const first = <T>(a: T | null, b: T | null): T | null => a ?? b;
const maxStatus = (a: InvoiceStatus, b: InvoiceStatus): InvoiceStatus => (STATUS_ORDER[b] > STATUS_ORDER[a] ? b : a);
const minTime = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : Math.min(a, b));

/** A payment as the first fact about its invoice describes it. */
export function paymentFromInvoice(invoice: InvoiceFacts, subscriptionId: string): SubscriptionPayment {
  return {
    invoiceId: invoice.invoiceId,
    subscriptionId,
    billingReason: invoice.billingReason,
    status: isInvoiceStatus(invoice.status) ? invoice.status : 'open',
    number: invoice.number,
    hostedInvoiceUrl: invoice.hostedInvoiceUrl,
    invoicePdf: invoice.invoicePdf,
    amountDue: invoice.amountDue,
    amountPaid: invoice.amountPaid,
    currency: invoice.currency,
    periodStart: invoice.periodStart,
    periodEnd: invoice.periodEnd,
    priceId: invoice.priceId,
    paymentIntentId: invoice.paymentIntentId,
    chargeId: invoice.chargeId,
    amountRefunded: 0,
    refunds: [],
    disputeId: null,
    disputeStatus: null,
    attemptCount: invoice.attemptCount,
    createdAt: invoice.createdAt,
    paidAt: invoice.paidAt,
  };
}

/**
 * Merge one fact into a payment. Statuses only move forward (a late `open` never un-pays an
 * invoice), totals only grow (Stripe's refunded total is cumulative), ids and Stripe's
 * immutable fields keep the first value seen, and a closed dispute outranks its opening.
 */
export function mergeSubscriptionPayment(p: SubscriptionPayment, change: SubscriptionPaymentChange): SubscriptionPayment {
  switch (change.kind) {
    case 'invoice': {
      const i = change.invoice;
      return {
        ...p,
        billingReason: first(p.billingReason, i.billingReason),
        status: isInvoiceStatus(i.status) ? maxStatus(p.status, i.status) : p.status,
        number: first(p.number, i.number),
        hostedInvoiceUrl: first(p.hostedInvoiceUrl, i.hostedInvoiceUrl),
        invoicePdf: first(p.invoicePdf, i.invoicePdf),
        amountDue: Math.max(p.amountDue, i.amountDue),
        amountPaid: Math.max(p.amountPaid, i.amountPaid),
        periodStart: first(p.periodStart, i.periodStart),
        periodEnd: first(p.periodEnd, i.periodEnd),
        priceId: first(p.priceId, i.priceId),
        paymentIntentId: first(p.paymentIntentId, i.paymentIntentId),
        chargeId: first(p.chargeId, i.chargeId),
        attemptCount: Math.max(p.attemptCount, i.attemptCount),
        createdAt: Math.min(p.createdAt, i.createdAt),
        paidAt: minTime(p.paidAt, i.paidAt),
      };
    }
    case 'linked':
      return { ...p, paymentIntentId: first(p.paymentIntentId, change.paymentIntentId), chargeId: first(p.chargeId, change.chargeId) };
    case 'refunded':
      return { ...p, amountRefunded: Math.max(p.amountRefunded, chargeRefundedTotal(p.refunds, change.amountRefunded, change.at)) };
    case 'refund':
      return mergeRefund(p, change);
    case 'dispute': {
      // A charge has at most one dispute; its closing (won or lost) is final.
      if (p.disputeStatus !== null && DISPUTE_ORDER[p.disputeStatus] >= DISPUTE_ORDER[change.status]) return p;
      return { ...p, disputeId: first(p.disputeId, change.disputeId), disputeStatus: change.status };
    }
  }
}

/**
 * A refund reported: a live one raises the refunded total to at least the sum of the live
 * refunds; a failed or canceled one comes off the total once (the money stayed with the
 * merchant), and a live report delivered after it is older news. The same rules as an order's.
 */
function mergeRefund(p: SubscriptionPayment, change: Extract<SubscriptionPaymentChange, { kind: 'refund' }>): SubscriptionPayment {
  const prior = p.refunds.find((r) => r.refundId === change.refundId);
  // A refund only moves forward (pending, then succeeded, then failed or canceled): an older report changes nothing.
  if (prior && REFUND_ORDER[change.status] <= REFUND_ORDER[prior.status] && change.amount <= prior.amount) return p;
  const status = prior && REFUND_ORDER[prior.status] > REFUND_ORDER[change.status] ? prior.status : change.status;
  const undo = isUndoneRefundStatus(status);
  const undoneAt = prior?.undoneAt ?? (undo ? change.at : null);
  const amount = Math.max(prior?.amount ?? 0, change.amount);
  const refunds = [...p.refunds.filter((r) => r.refundId !== change.refundId), { refundId: change.refundId, amount, status, undoneAt }].sort((a, b) => a.refundId.localeCompare(b.refundId));
  if (!undo) return { ...p, refunds, amountRefunded: Math.max(p.amountRefunded, liveRefundTotal(refunds)) };
  // Undone before (another failure report, e.g. `refund.failed` then `refund.updated`): the total already lost it.
  if (prior?.undoneAt != null) return { ...p, refunds };
  return { ...p, refunds, amountRefunded: Math.max(0, p.amountRefunded - amount) };
}

const REFUND_ORDER: Readonly<Record<RefundStatus, number>> = { pending: 0, requires_action: 1, succeeded: 2, failed: 3, canceled: 4 };

/** Whether the money of a payment went back to the customer: a lost dispute, or a refund of all of it. */
export function isMoneyTakenBack(p: Pick<SubscriptionPayment, 'amountPaid' | 'amountRefunded' | 'disputeStatus'>): boolean {
  return p.disputeStatus === 'lost' || (p.amountPaid > 0 && p.amountRefunded >= p.amountPaid);
}

/** What changed between two versions of a payment, in words for the subscription's timeline (empty: nothing). */
export function describePaymentChange(before: SubscriptionPayment | null, after: SubscriptionPayment): string[] {
  const what = after.number ?? after.invoiceId;
  const notes: string[] = [];
  if (!before) notes.push(`invoice ${what} (${after.billingReason ?? 'invoice'}) ${after.status}: ${after.amountDue} ${after.currency} due`);
  else if (before.status !== after.status) notes.push(`invoice ${what} ${after.status}`);
  if (after.status === 'paid' && before?.status !== 'paid' && before) notes.push(`paid ${after.amountPaid} ${after.currency}`);
  if ((before?.paymentIntentId ?? null) !== after.paymentIntentId && after.paymentIntentId) notes.push(`paid by ${after.paymentIntentId}`);
  if (after.status === 'open' && after.attemptCount > (before?.attemptCount ?? 0)) notes.push(`payment attempt ${after.attemptCount} failed`);
  for (const r of after.refunds) {
    const was = before?.refunds.find((b) => b.refundId === r.refundId);
    if (r.undoneAt !== null && was?.undoneAt == null) notes.push(`refund ${r.refundId} ${r.status}: ${r.amount} ${after.currency} stays paid`);
  }
  if ((before?.amountRefunded ?? 0) !== after.amountRefunded) {
    notes.push(isMoneyTakenBack({ ...after, disputeStatus: null }) ? `refunded in full (${after.amountRefunded} ${after.currency})` : `refunded ${after.amountRefunded} ${after.currency}`);
  }
  if ((before?.disputeStatus ?? null) !== after.disputeStatus && after.disputeStatus) notes.push(`dispute ${after.disputeId} ${after.disputeStatus}`);
  return notes;
}

/** Whether two versions of a payment differ. */
export function paymentChanged(before: SubscriptionPayment | null, after: SubscriptionPayment): boolean {
  if (!before) return true;
  return (Object.keys(after) as (keyof SubscriptionPayment)[]).some((k) => (k === 'refunds' ? JSON.stringify(before.refunds) !== JSON.stringify(after.refunds) : before[k] !== after[k]));
}
