/**
 * Billing reads Settle makes for plans: invoices of a subscription, invoice payments (the link,
 * since API version 2025-03-31, between an invoice and the PaymentIntent that paid it), and the
 * customer portal (a simulator page stands in for Stripe's).
 */
import type { SimulatorCore } from './core.js';
import { expand } from './expand.js';
import { listPage, newestFirst } from './lists.js';
import {
  allowOnly, invalid, noSuch, optEnum, optHash, optString, required, urlParam,
  type RequestContext, type Reply,
} from './stripe-api.js';
import { clone, nowSeconds, randomId, type StripeObject } from './state.js';

const PAGE_PARAMS = ['ending_before', 'expand', 'limit', 'starting_after'] as const;

/** `GET /v1/invoices` with `subscription`, `customer` and `status` filters. */
export function listInvoices(sim: SimulatorCore, ctx: RequestContext): Reply {
  const p = ctx.params;
  allowOnly(p, [...PAGE_PARAMS, 'collection_method', 'created', 'customer', 'due_date', 'status', 'subscription']);
  const subscription = optString(p.subscription, 'subscription');
  const customer = optString(p.customer, 'customer');
  const status = optEnum(p.status, 'status', ['draft', 'open', 'paid', 'uncollectible', 'void'] as const);
  const subscriptionOf = (inv: StripeObject) =>
    (inv.parent as { subscription_details?: { subscription?: string } } | null)?.subscription_details?.subscription ?? null;
  const all = newestFirst(sim.state.invoices.values()).filter(
    (inv) => (!subscription || subscriptionOf(inv) === subscription) && (!customer || inv.customer === customer) && (!status || inv.status === status),
  );
  return { status: 200, body: expand(sim, listPage(all, p, '/v1/invoices', 'invoice'), p) };
}

/** `GET /v1/disputes` with `payment_intent` and `charge` filters (how a reconciler finds a payment's disputes). */
export function listDisputes(sim: SimulatorCore, ctx: RequestContext): Reply {
  return listOfPayment(sim, ctx, sim.state.disputes.values(), 'dispute');
}

/** `GET /v1/refunds` with `payment_intent` and `charge` filters (how a reconciler finds a payment's refunds). */
export function listRefunds(sim: SimulatorCore, ctx: RequestContext): Reply {
  return listOfPayment(sim, ctx, sim.state.refunds.values(), 'refund');
}

/** A list of the objects of one payment (`payment_intent` or `charge`), newest first, paged like Stripe's. */
function listOfPayment(sim: SimulatorCore, ctx: RequestContext, objects: Iterable<StripeObject>, kind: 'dispute' | 'refund'): Reply {
  const p = ctx.params;
  allowOnly(p, [...PAGE_PARAMS, 'charge', 'created', 'payment_intent']);
  const paymentIntent = optString(p.payment_intent, 'payment_intent');
  const charge = optString(p.charge, 'charge');
  const all = newestFirst(objects).filter((o) => (!paymentIntent || o.payment_intent === paymentIntent) && (!charge || o.charge === charge));
  return { status: 200, body: expand(sim, listPage(all, p, `/v1/${kind}s`, kind), p) };
}

/** `GET /v1/invoice_payments`: by `invoice`, by `payment[type]=payment_intent&payment[payment_intent]=pi_…`, by `status`. */
export function listInvoicePayments(sim: SimulatorCore, ctx: RequestContext): Reply {
  const p = ctx.params;
  allowOnly(p, [...PAGE_PARAMS, 'created', 'invoice', 'payment', 'status']);
  const invoice = optString(p.invoice, 'invoice');
  const payment = optHash(p.payment, 'payment');
  let paymentIntent: string | undefined;
  if (payment) {
    allowOnly(payment, ['type', 'payment_intent', 'payment_record']);
    const type = required(optEnum(payment.type, 'payment[type]', ['payment_intent', 'payment_record'] as const), 'payment[type]');
    if (type === 'payment_record') throw invalid('The Settle Stripe simulator has no payment records; filter by payment[type]=payment_intent.', { param: 'payment[type]' });
    paymentIntent = required(optString(payment.payment_intent, 'payment[payment_intent]'), 'payment[payment_intent]');
  }
  const status = optEnum(p.status, 'status', ['canceled', 'open', 'paid'] as const);
  const all = newestFirst(sim.state.invoicePayments.values()).filter(
    (ip) =>
      (!invoice || ip.invoice === invoice) &&
      (!paymentIntent || (ip.payment as { payment_intent?: string } | null)?.payment_intent === paymentIntent) &&
      (!status || ip.status === status),
  );
  return { status: 200, body: expand(sim, listPage(all, p, '/v1/invoice_payments', 'invoice_payment'), p) };
}

/** `POST /v1/billing_portal/sessions`: a portal session for a known customer, its `url` a simulator page. */
export function createPortalSession(sim: SimulatorCore, ctx: RequestContext): Reply {
  const p = ctx.params;
  allowOnly(p, ['configuration', 'customer', 'customer_account', 'expand', 'flow_data', 'locale', 'on_behalf_of', 'return_url']);
  const customer = required(optString(p.customer, 'customer'), 'customer');
  if (!sim.state.customers.has(customer)) throw noSuch('customer', customer, 'customer');
  const id = `bps_${randomId(24)}`;
  const session: StripeObject = {
    id,
    object: 'billing_portal.session',
    configuration: optString(p.configuration, 'configuration') ?? 'bpc_simulator_default',
    created: nowSeconds(),
    customer,
    customer_account: null,
    flow: null,
    livemode: false,
    locale: optString(p.locale, 'locale') ?? null,
    on_behalf_of: optString(p.on_behalf_of, 'on_behalf_of') ?? null,
    return_url: urlParam(p.return_url, 'return_url') ?? null,
    url: `${sim.url}/p/session/${id}`,
  };
  sim.state.portalSessions.set(id, session);
  return { status: 200, body: expand(sim, clone(session), p) };
}
