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
  currency: string;
  subscriptionId: string | null;
  /** Stripe times, epoch seconds. */
  createdAt: number;
  finalizedAt: number | null;
  paidAt: number | null;
};

export type PaymentCommand =
  | {
      type: 'checkout_completed';
      checkoutSessionId: string;
      paymentIntentId: string | null;
      paymentStatus: CheckoutPaymentStatus;
      amount: number | null;
      currency: string | null;
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
  | { type: 'dispute_opened'; paymentIntentId: string; disputeId: string; amount: number }
  | { type: 'dispute_closed'; paymentIntentId: string; disputeId: string; won: boolean }
  | { type: 'invoice_recorded'; invoice: InvoiceFacts };

export type PaymentCommandType = PaymentCommand['type'];

/** How an event finds its order: any one of these, tried in this order. */
export type OrderRef = {
  orderId: string | null;
  checkoutSessionId: string | null;
  paymentIntentId: string | null;
};
