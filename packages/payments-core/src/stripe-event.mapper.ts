import { REFUND_STATUSES, type CheckoutPaymentStatus, type OrderRef, type PaymentCommand, type RefundFacts, type RefundStatus } from './payment-command.js';
import { invoiceFactsOf, invoiceRef, subscriptionFactsOf } from './stripe-billing.mapper.js';
import { asObj, idOf, int, metaOrderId, str, type Obj } from './stripe-fields.js';

/**
 * The part of a Stripe event the mapper reads. Declared here so that payments-core does not
 * depend on the Stripe SDK; `Stripe.Event` is assignable to it.
 */
export type StripeEventLike = {
  id: string;
  type: string;
  created: number;
  /** The API version the object was rendered in (null for some Connect events; absent in tests). */
  api_version?: string | null;
  data: { object: unknown };
};

/** Whether the event was rendered in an API version older than `version` (`YYYY-MM-DD`). */
function renderedBefore(event: StripeEventLike, version: string): boolean {
  return typeof event.api_version === 'string' && event.api_version.slice(0, 10) < version;
}

export type MappedEvent =
  | { supported: true; ref: OrderRef; command: PaymentCommand }
  /** `malformed`: an object Settle acts on that lacks what Settle needs; dead-lettered, never guessed at. */
  | { supported: false; reason: string; malformed?: true };

function unsupported(reason: string): MappedEvent {
  return { supported: false, reason };
}

function malformed(reason: string): MappedEvent {
  return { supported: false, reason, malformed: true };
}

function sessionRef(session: Obj): OrderRef {
  return {
    orderId: metaOrderId(session),
    checkoutSessionId: str(session.id),
    paymentIntentId: idOf(session.payment_intent),
  };
}

function intentRef(intent: Obj): OrderRef {
  return { orderId: metaOrderId(intent), checkoutSessionId: null, paymentIntentId: str(intent.id) };
}

function paymentStatusOf(v: unknown): CheckoutPaymentStatus | null {
  return v === 'paid' || v === 'unpaid' || v === 'no_payment_required' ? v : null;
}

function failureReason(intent: Obj): string {
  const err = asObj(intent.last_payment_error);
  return str(err.decline_code) ?? str(err.code) ?? str(err.message) ?? 'payment_failed';
}

/**
 * The PaymentIntent a charge-level object (charge, refund, dispute) belongs to. API versions
 * before 2019 have no `payment_intent` on disputes and refunds; an expanded `charge` still names it.
 */
function paymentIntentOf(o: Obj): string | null {
  return idOf(o.payment_intent) ?? idOf(asObj(o.charge).payment_intent);
}

/**
 * An `invoice_payment` object (its event, or Stripe's API) as the link between its invoice and
 * the PaymentIntent or charge that paid it; null when it lacks an id, an invoice or a payment.
 */
export function invoicePaymentLinkOf(object: unknown): Extract<PaymentCommand, { type: 'invoice_payment_linked' }> | null {
  const o = asObj(object);
  const invoiceId = idOf(o.invoice);
  const invoicePaymentId = str(o.id);
  const payment = asObj(o.payment);
  if (!invoiceId || !invoicePaymentId || typeof payment.type !== 'string') return null;
  const paymentIntentId = payment.type === 'payment_intent' ? idOf(payment.payment_intent) : null;
  const chargeId = payment.type === 'charge' ? idOf(payment.charge) : null;
  return { type: 'invoice_payment_linked', invoiceId, invoicePaymentId, paymentIntentId, chargeId, paid: o.status === 'paid' };
}

const isRefundStatus = (v: unknown): v is RefundStatus => typeof v === 'string' && (REFUND_STATUSES as readonly string[]).includes(v);

/** A Stripe Refund object's facts, or null when it lacks what a refund must have. */
export function refundFacts(r: Obj): RefundFacts | null {
  const refundId = str(r.id);
  const paymentIntentId = paymentIntentOf(r);
  const amount = int(r.amount);
  const currency = str(r.currency);
  const createdAt = int(r.created);
  if (!refundId || !paymentIntentId || amount === null || !currency || createdAt === null || !isRefundStatus(r.status)) return null;
  return {
    refundId,
    paymentIntentId,
    amount,
    currency,
    status: r.status,
    reason: str(r.reason),
    failureReason: str(r.failure_reason),
    createdAt,
  };
}

/**
 * Every Stripe event type `mapStripeEvent` reads; any other is "not supported" whatever its object
 * holds. Known before anything is fetched: a thin notification of another type needs no Stripe read.
 */
export const HANDLED_EVENT_TYPES: ReadonlySet<string> = new Set([
  'checkout.session.completed',
  'checkout.session.async_payment_succeeded',
  'checkout.session.async_payment_failed',
  'checkout.session.expired',
  'payment_intent.created',
  'payment_intent.processing',
  'payment_intent.requires_action',
  'payment_intent.succeeded',
  'payment_intent.payment_failed',
  'payment_intent.canceled',
  'refund.created',
  'refund.updated',
  'refund.failed',
  'charge.refund.updated',
  'charge.refunded',
  'charge.dispute.created',
  'charge.dispute.closed',
  'invoice.finalized',
  'invoice.paid',
  'invoice.payment_failed',
  'invoice.voided',
  'invoice.marked_uncollectible',
  'invoice_payment.paid',
  'customer.subscription.created',
  'customer.subscription.updated',
  'customer.subscription.deleted',
  'customer.subscription.paused',
  'customer.subscription.resumed',
  'customer.subscription.pending_update_applied',
  'customer.subscription.pending_update_expired',
  'customer.subscription.trial_will_end',
]);

/**
 * What a dispute's status says of the money, shared by the webhook's mapping and the
 * reconciler's reading of Stripe: `won` (won, or an inquiry closed as `warning_closed`) and
 * `prevented` (API 2025-08-27 and later, dispute prevention: stopped before it became a
 * chargeback; a resolution that refunds the customer arrives as the refund's own events) leave it
 * with the merchant, `lost` does not, anything else is still `open`.
 */
export function disputeOutcome(status: unknown): 'open' | 'won' | 'lost' | 'prevented' {
  if (status === 'won' || status === 'warning_closed') return 'won';
  if (status === 'lost' || status === 'prevented') return status;
  return 'open';
}

/**
 * Maps a Stripe event to a domain command and the references that find its order.
 * Anything Settle does not act on maps to "not supported": recorded, never an error.
 */
export function mapStripeEvent(event: StripeEventLike): MappedEvent {
  if (!HANDLED_EVENT_TYPES.has(event.type)) return unsupported(`event type ${event.type} is not supported`);
  const o = asObj(event.data.object);
  switch (event.type) {
    case 'checkout.session.completed': {
      const ref = sessionRef(o);
      const paymentStatus = paymentStatusOf(o.payment_status);
      if (!ref.checkoutSessionId || !paymentStatus) return unsupported('malformed checkout session');
      const subscriptionId = o.mode === 'subscription' ? idOf(o.subscription) : null;
      // A completed subscription-mode session always names its subscription.
      if (o.mode !== undefined && o.mode !== 'payment' && !subscriptionId) return unsupported(`checkout mode ${String(o.mode)}`);
      return {
        supported: true,
        ref,
        command: {
          type: 'checkout_completed',
          checkoutSessionId: ref.checkoutSessionId,
          paymentIntentId: ref.paymentIntentId,
          paymentStatus,
          amount: int(o.amount_total),
          currency: str(o.currency),
          ...(subscriptionId ? { subscriptionId } : {}),
        },
      };
    }
    case 'checkout.session.async_payment_succeeded': {
      const ref = sessionRef(o);
      if (!ref.checkoutSessionId) return unsupported('malformed checkout session');
      return {
        supported: true,
        ref,
        command: {
          type: 'checkout_async_succeeded',
          checkoutSessionId: ref.checkoutSessionId,
          paymentIntentId: ref.paymentIntentId,
        },
      };
    }
    case 'checkout.session.async_payment_failed': {
      const ref = sessionRef(o);
      if (!ref.checkoutSessionId) return unsupported('malformed checkout session');
      return {
        supported: true,
        ref,
        command: { type: 'payment_failed', paymentIntentId: ref.paymentIntentId, reason: 'async_payment_failed' },
      };
    }
    case 'checkout.session.expired': {
      const ref = sessionRef(o);
      if (!ref.checkoutSessionId) return unsupported('malformed checkout session');
      return { supported: true, ref, command: { type: 'checkout_expired', checkoutSessionId: ref.checkoutSessionId } };
    }
    case 'payment_intent.created':
    case 'payment_intent.processing':
    case 'payment_intent.requires_action':
    case 'payment_intent.succeeded':
    case 'payment_intent.payment_failed':
    case 'payment_intent.canceled': {
      const ref = intentRef(o);
      const pi = ref.paymentIntentId;
      if (!pi) return unsupported('malformed payment intent');
      // A subscription invoice's payment (older API versions name the invoice): its invoice events settle it.
      if (!ref.orderId && idOf(o.invoice)) return unsupported('payment intent of an invoice');
      switch (event.type) {
        case 'payment_intent.created':
          return { supported: true, ref, command: { type: 'payment_created', paymentIntentId: pi } };
        case 'payment_intent.processing':
          return { supported: true, ref, command: { type: 'payment_processing', paymentIntentId: pi } };
        case 'payment_intent.requires_action':
          return { supported: true, ref, command: { type: 'payment_requires_action', paymentIntentId: pi } };
        case 'payment_intent.succeeded': {
          const amount = int(o.amount_received) ?? int(o.amount);
          const currency = str(o.currency);
          if (amount === null || !currency) return unsupported('malformed payment intent');
          return { supported: true, ref, command: { type: 'payment_succeeded', paymentIntentId: pi, amount, currency } };
        }
        case 'payment_intent.payment_failed':
          return { supported: true, ref, command: { type: 'payment_failed', paymentIntentId: pi, reason: failureReason(o) } };
        default:
          return {
            supported: true,
            ref,
            command: { type: 'payment_canceled', paymentIntentId: pi, reason: str(o.cancellation_reason) ?? 'canceled' },
          };
      }
    }
    case 'refund.created':
    case 'refund.updated':
    case 'refund.failed':
    case 'charge.refund.updated': {
      const refund = refundFacts(o);
      if (!refund) return unsupported('refund without payment intent');
      return {
        supported: true,
        ref: { orderId: metaOrderId(o), checkoutSessionId: null, paymentIntentId: refund.paymentIntentId },
        command: { type: 'refund_changed', paymentIntentId: refund.paymentIntentId, refund },
      };
    }
    case 'charge.refunded': {
      const pi = paymentIntentOf(o);
      const amountRefunded = int(o.amount_refunded);
      const currency = str(o.currency);
      if (!pi || amountRefunded === null || !currency) return unsupported('charge without payment intent');
      return {
        supported: true,
        ref: { orderId: metaOrderId(o), checkoutSessionId: null, paymentIntentId: pi },
        command: { type: 'charge_refunded', paymentIntentId: pi, amountRefunded, currency },
      };
    }
    case 'charge.dispute.created':
    case 'charge.dispute.closed': {
      const pi = paymentIntentOf(o);
      const disputeId = str(o.id);
      if (!pi || !disputeId) return unsupported('dispute without payment intent');
      const ref: OrderRef = { orderId: null, checkoutSessionId: null, paymentIntentId: pi };
      const outcome = disputeOutcome(o.status);
      // Over as soon as it is known, on either event.
      if (outcome === 'prevented') {
        return { supported: true, ref, command: { type: 'dispute_closed', paymentIntentId: pi, disputeId, outcome } };
      }
      if (event.type === 'charge.dispute.created') {
        return {
          supported: true,
          ref,
          command: { type: 'dispute_opened', paymentIntentId: pi, disputeId, amount: int(o.amount) ?? 0 },
        };
      }
      if (outcome === 'open') return unsupported(`dispute closed with status ${String(o.status)}`);
      return {
        supported: true,
        ref,
        command: { type: 'dispute_closed', paymentIntentId: pi, disputeId, outcome },
      };
    }
    case 'invoice.finalized':
    case 'invoice.paid':
    case 'invoice.payment_failed':
    case 'invoice.voided':
    case 'invoice.marked_uncollectible': {
      const facts = invoiceFactsOf(o);
      if (!facts) return malformed('malformed invoice: it needs an id, a currency and a created time');
      const ref = invoiceRef(o);
      // Invoices rendered before 2018-05-21 have no `billing_reason`; Stripe documents `subscription`
      // for them (no distinction between creation, cycle and update), so they count as renewals.
      const billingReason = facts.billingReason ?? (facts.subscriptionId && renderedBefore(event, '2018-05-21') ? 'subscription' : null);
      if ((event.type === 'invoice.paid' || event.type === 'invoice.payment_failed') && facts.subscriptionId && billingReason?.startsWith('subscription')) {
        return {
          supported: true,
          ref,
          command: {
            type: event.type === 'invoice.paid' ? 'subscription_invoice_paid' : 'subscription_invoice_failed',
            subscriptionId: facts.subscriptionId,
            billingReason,
            periodEnd: facts.periodEnd,
            invoice: facts,
          },
        };
      }
      if (event.type === 'invoice.payment_failed') return unsupported('failed payment of an invoice outside a subscription');
      return { supported: true, ref, command: { type: 'invoice_recorded', invoice: facts } };
    }
    case 'invoice_payment.paid': {
      const command = invoicePaymentLinkOf(o);
      if (!command) return malformed('malformed invoice payment: it needs an id, an invoice and a payment');
      return { supported: true, ref: { orderId: null, checkoutSessionId: null, paymentIntentId: null }, command };
    }
    case 'customer.subscription.created':
    case 'customer.subscription.updated':
    case 'customer.subscription.deleted':
    case 'customer.subscription.paused':
    case 'customer.subscription.resumed':
    case 'customer.subscription.pending_update_applied':
    case 'customer.subscription.pending_update_expired':
    case 'customer.subscription.trial_will_end': {
      const subscription = subscriptionFactsOf(o, event.type === 'customer.subscription.deleted');
      if (!subscription) return malformed('malformed subscription: it needs an id and one of Stripe\'s subscription statuses');
      return {
        supported: true,
        ref: { orderId: subscription.orderId, checkoutSessionId: null, paymentIntentId: null },
        command: {
          type: 'subscription_changed',
          subscription,
          ...(event.type === 'customer.subscription.trial_will_end' ? { notice: 'trial_will_end' as const } : {}),
        },
      };
    }
    default:
      return unsupported(`event type ${event.type} is not supported`);
  }
}

/**
 * Settle puts the order id on every PaymentIntent it creates: a PaymentIntent event without
 * `metadata.orderId` is someone else's (a subscription invoice's, a payment made outside Settle).
 */
export function isForeignPaymentIntent(event: StripeEventLike): boolean {
  if (!event.type.startsWith('payment_intent.')) return false;
  return typeof asObj(asObj(event.data.object).metadata).orderId !== 'string';
}

/**
 * A subscription, or an invoice of one, that Settle did not start: Settle puts the order id in
 * `subscription_data.metadata` at Checkout, so its subscriptions and their invoices carry it.
 */
export function isForeignSubscriptionEvent(event: StripeEventLike): boolean {
  const o = asObj(event.data.object);
  if (event.type.startsWith('customer.subscription.')) return str(asObj(o.metadata).orderId) === null;
  if (!event.type.startsWith('invoice.') || event.type.startsWith('invoice_payment.')) return false;
  const facts = invoiceFactsOf(o);
  return facts?.subscriptionId != null && invoiceRef(o).orderId === null;
}

/** The e-mail a Checkout Session collected, for finding the order in the console (never logged). */
export function checkoutEmailOf(event: StripeEventLike): string | null {
  if (!event.type.startsWith('checkout.session.')) return null;
  const email = asObj(asObj(event.data.object).customer_details).email;
  return typeof email === 'string' && email.includes('@') ? email : null;
}
