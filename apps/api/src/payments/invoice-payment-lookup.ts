import type Stripe from 'stripe';

/**
 * Which invoice a PaymentIntent paid, by Stripe's word. Since API version 2025-03-31 (basil) a
 * PaymentIntent and its charge no longer name their invoice; `invoice_payment` objects do.
 */
export async function findInvoiceOfPaymentIntent(stripe: Stripe, paymentIntentId: string): Promise<{ invoiceId: string; invoicePaymentId: string } | null> {
  const list = await stripe.invoicePayments.list({ payment: { type: 'payment_intent', payment_intent: paymentIntentId }, limit: 10 });
  const payment = list.data.find((p) => p.status === 'paid') ?? list.data[0];
  if (!payment) return null;
  const invoiceId = typeof payment.invoice === 'string' ? payment.invoice : payment.invoice.id;
  return invoiceId ? { invoiceId, invoicePaymentId: payment.id } : null;
}
