import type { SubscriptionFacts } from './subscription-state.js';
import type { DisputeOutcome } from './order-state.js';

/**
 * Provider-neutral commands that move an order. Stripe events map to these
 * (see `stripe-event.mapper.ts`); admin actions and the reconciler produce them too.
 */

export type CheckoutPaymentStatus = 'paid' | 'unpaid' | 'no_payment_required';

export type InvoiceFacts = {
  invoiceId: string;
  number: string | null;
  status: string | null;
  hostedInvoiceUrl: string | null;
  invoicePdf: string | null;
  amountDue: number;
  amountPaid: number;
  /**
   * What the customer's Stripe balance paid of it (`ending_balance - starting_balance`: a credit
   * from a downgrade used up is positive, an old debt added to it negative); 0 when not known.
   */
  balanceApplied?: number;
  currency: string;
  subscriptionId: string | null;
  /** Stripe's `billing_reason` (`subscription_create`, `subscription_cycle`, `subscription_update`, `manual`…). */
  billingReason: string | null;
  /** The period its subscription lines bill (not the invoice's own `period_*`, which trails by one). */
  periodStart: number | null;
  periodEnd: number | null;
  /** The price of its newest subscription line. */
  priceId: string | null;
  /**
   * The prices of every newest line that charges, in the invoice's order, when it bills several
   * items (a plan and add-ons): the plan is the first the catalogue knows.
   */
  priceIds?: readonly string[];
  /** Older API versions name the money on the invoice; current ones through `invoice_payment` objects. */
  paymentIntentId: string | null;
  chargeId: string | null;
  attemptCount: number;
  /** Stripe times, epoch seconds. */
  createdAt: number;
  finalizedAt: number | null;
  paidAt: number | null;
};

/** Stripe's refund statuses; `failed` and `canceled` mean the money stayed with the merchant. */
export type RefundStatus = 'pending' | 'requires_action' | 'succeeded' | 'failed' | 'canceled';
export const REFUND_STATUSES = ['pending', 'requires_action', 'succeeded', 'failed', 'canceled'] as const satisfies readonly RefundStatus[];

/** One refund as Stripe reports it (`refund.*`, `charge.refund.updated`). Times are epoch seconds. */
export type RefundFacts = {
  refundId: string;
  paymentIntentId: string;
  amount: number;
  currency: string;
  status: RefundStatus;
  reason: string | null;
  failureReason: string | null;
  createdAt: number;
};

export type PaymentCommand =
  | {
      type: 'checkout_completed';
      checkoutSessionId: string;
      paymentIntentId: string | null;
      paymentStatus: CheckoutPaymentStatus;
      amount: number | null;
      currency: string | null;
      /**
       * Set only for a subscription-mode session: the subscription it started. The new handler
       * then only links; the subscription's first paid invoice confirms the order.
       */
      subscriptionId?: string;
    }
  | { type: 'checkout_async_succeeded'; checkoutSessionId: string; paymentIntentId: string | null }
  | { type: 'checkout_expired'; checkoutSessionId: string }
  | { type: 'payment_created'; paymentIntentId: string }
  | { type: 'payment_processing'; paymentIntentId: string }
  | { type: 'payment_requires_action'; paymentIntentId: string }
  | { type: 'payment_succeeded'; paymentIntentId: string; amount: number; currency: string }
  | { type: 'payment_failed'; paymentIntentId: string | null; reason: string }
  | { type: 'payment_canceled'; paymentIntentId: string | null; reason: string }
  | { type: 'charge_refunded'; paymentIntentId: string; amountRefunded: number; currency: string }
  /** A refund was created or changed status; a failed or canceled one gives its amount back. `paymentIntentId` is the refund's. */
  | { type: 'refund_changed'; paymentIntentId: string; refund: RefundFacts }
  | { type: 'dispute_opened'; paymentIntentId: string; disputeId: string; amount: number }
  | { type: 'dispute_closed'; paymentIntentId: string; disputeId: string; outcome: DisputeOutcome }
  | { type: 'invoice_recorded'; invoice: InvoiceFacts }
  /**
   * A subscription's invoice was paid or its payment failed. `billingReason` is Stripe's
   * (`subscription_create` for the first invoice, which confirms the order; `subscription_cycle`
   * for a renewal, which is only recorded). `periodEnd` is the end of the period it bills.
   */
  | { type: 'subscription_invoice_paid'; subscriptionId: string; billingReason: string; periodEnd: number | null; invoice: InvoiceFacts }
  | { type: 'subscription_invoice_failed'; subscriptionId: string; billingReason: string; periodEnd: number | null; invoice: InvoiceFacts }
  /**
   * A `customer.subscription.*` event: moves the subscription, never the order's status.
   * `notice` marks an announcement rather than a change (`trial_will_end`, three days before).
   */
  | { type: 'subscription_changed'; subscription: SubscriptionFacts; notice?: 'trial_will_end' }
  /**
   * An `invoice_payment` (current API versions): which PaymentIntent or charge paid an invoice.
   * It is how refunds and disputes, which name only the PaymentIntent and charge, find their invoice.
   */
  | { type: 'invoice_payment_linked'; invoiceId: string; invoicePaymentId: string; paymentIntentId: string | null; chargeId: string | null; paid: boolean };

/** Commands that carry subscription facts of their own rather than an order's payment. */
export type SubscriptionCommand = Extract<PaymentCommand, { type: 'subscription_changed' | 'invoice_payment_linked' }>;

/**
 * Money going back on a payment, or a refund failing and bringing it back (by PaymentIntent): on
 * a subscription's renewal it concerns the subscription, not the order.
 */
export type MoneyBackCommand = Extract<PaymentCommand, { type: 'charge_refunded' | 'refund_changed' | 'dispute_opened' | 'dispute_closed' }>;

export function isMoneyBackCommand(command: PaymentCommand): command is MoneyBackCommand {
  return command.type === 'charge_refunded' || command.type === 'refund_changed' || command.type === 'dispute_opened' || command.type === 'dispute_closed';
}

/** The Stripe subscription a command belongs to, if any (for finding its order without metadata). */
export function subscriptionIdOf(command: PaymentCommand): string | null {
  switch (command.type) {
    case 'subscription_changed':
      return command.subscription.subscriptionId;
    case 'subscription_invoice_paid':
    case 'subscription_invoice_failed':
      return command.subscriptionId;
    case 'invoice_recorded':
      return command.invoice.subscriptionId;
    case 'checkout_completed':
      return command.subscriptionId ?? null;
    default:
      return null;
  }
}

/** How a command finds its subscription when it names no order: by subscription, by invoice, or by the money that paid an invoice. */
export type SubscriptionRef = { subscriptionId: string | null; invoiceId: string | null; paymentIntentId: string | null };

export function subscriptionRefOf(command: PaymentCommand): SubscriptionRef {
  const paymentIntentId = isMoneyBackCommand(command) ? command.paymentIntentId : command.type === 'invoice_payment_linked' ? command.paymentIntentId : null;
  const invoiceId = command.type === 'invoice_payment_linked' ? command.invoiceId : 'invoice' in command ? command.invoice.invoiceId : null;
  return { subscriptionId: subscriptionIdOf(command), invoiceId, paymentIntentId };
}

export type PaymentCommandType = PaymentCommand['type'];

/** How an event finds its order: any one of these, tried in this order. */
export type OrderRef = {
  orderId: string | null;
  checkoutSessionId: string | null;
  paymentIntentId: string | null;
};
