/** The Stripe REST endpoints the simulator answers, and the small ones that need no file of their own. */
import { randomBytes } from 'node:crypto';
import { createPortalSession, listDisputes, listRefunds, listInvoicePayments, listInvoices } from './billing-routes.js';
import { createSession, expireSession, sessionLineItems } from './checkout-sessions.js';
import type { SimulatorCore } from './core.js';
import { listEvents, retrieveThinEvent } from './events-routes.js';
import { expand } from './expand.js';
import { createRefund } from './refunds.js';
import { resumeSubscription } from './subscription-recovery.js';
import {
  allowOnly, invalid, metadataParam, noSuch, optHash, optInt, optList, optString,
  type RequestContext, type Reply, type Route,
} from './stripe-api.js';
import { clone, nowSeconds, randomId, type StripeObject } from './state.js';

// Top-level parameters each endpoint accepts (from the SDK's *Params); others get a 400.
const CUSTOMER_CREATE_PARAMS = [
  'address', 'balance', 'business_name', 'cash_balance', 'description', 'email', 'expand', 'individual_name',
  'invoice_prefix', 'invoice_settings', 'metadata', 'name', 'next_invoice_sequence', 'payment_method', 'phone',
  'preferred_locales', 'shipping', 'source', 'tax', 'tax_exempt', 'tax_id_data', 'test_clock', 'validate',
] as const;

export function apiRoutes(sim: SimulatorCore): Route[] {
  const s = sim.state;
  const get = (pattern: RegExp, kind: string, map: () => Map<string, StripeObject>): Route => ({
    method: 'GET',
    pattern,
    handler: (ctx, id) => {
      allowOnly(ctx.params, ['expand']);
      const obj = map().get(id);
      if (!obj) throw noSuch(kind, id);
      return { status: 200, body: expand(sim, clone(obj), ctx.params) };
    },
  });
  return [
    { method: 'POST', pattern: /^\/v1\/customers$/, handler: (ctx) => createCustomer(sim, ctx) },
    get(/^\/v1\/customers\/([^/]+)$/, 'customer', () => s.customers),
    { method: 'POST', pattern: /^\/v1\/checkout\/sessions$/, handler: (ctx) => createSession(sim, ctx) },
    get(/^\/v1\/checkout\/sessions\/([^/]+)$/, 'checkout.session', () => s.checkoutSessions),
    { method: 'GET', pattern: /^\/v1\/checkout\/sessions\/([^/]+)\/line_items$/, handler: (ctx, id) => sessionLineItems(sim, ctx, id) },
    { method: 'POST', pattern: /^\/v1\/checkout\/sessions\/([^/]+)\/expire$/, handler: (ctx, id) => expireSession(sim, ctx, id) },
    get(/^\/v1\/payment_intents\/([^/]+)$/, 'payment_intent', () => s.paymentIntents),
    get(/^\/v1\/charges\/([^/]+)$/, 'charge', () => s.charges),
    { method: 'POST', pattern: /^\/v1\/refunds$/, handler: (ctx) => createRefund(sim, ctx) },
    get(/^\/v1\/refunds\/([^/]+)$/, 'refund', () => s.refunds),
    { method: 'GET', pattern: /^\/v1\/refunds$/, handler: (ctx) => listRefunds(sim, ctx) },
    get(/^\/v1\/invoices\/([^/]+)$/, 'invoice', () => s.invoices),
    get(/^\/v1\/disputes\/([^/]+)$/, 'dispute', () => s.disputes),
    { method: 'GET', pattern: /^\/v1\/disputes$/, handler: (ctx) => listDisputes(sim, ctx) },
    get(/^\/v1\/subscriptions\/([^/]+)$/, 'subscription', () => s.subscriptions),
    { method: 'POST', pattern: /^\/v1\/subscriptions\/([^/]+)\/resume$/, handler: (ctx, id) => resumeSubscription(sim, ctx, id) },
    get(/^\/v1\/events\/([^/]+)$/, 'event', () => s.events as unknown as Map<string, StripeObject>),
    { method: 'GET', pattern: /^\/v1\/events$/, handler: (ctx) => listEvents(sim, ctx) },
    { method: 'GET', pattern: /^\/v2\/core\/events\/([^/]+)$/, handler: (ctx, id) => retrieveThinEvent(sim, ctx, id) },
    { method: 'GET', pattern: /^\/v1\/invoices$/, handler: (ctx) => listInvoices(sim, ctx) },
    { method: 'GET', pattern: /^\/v1\/invoice_payments$/, handler: (ctx) => listInvoicePayments(sim, ctx) },
    get(/^\/v1\/invoice_payments\/([^/]+)$/, 'invoice_payment', () => s.invoicePayments),
    { method: 'POST', pattern: /^\/v1\/billing_portal\/sessions$/, handler: (ctx) => createPortalSession(sim, ctx) },
  ];
}

function createCustomer(sim: SimulatorCore, ctx: RequestContext): Reply {
  const p = ctx.params;
  allowOnly(p, CUSTOMER_CREATE_PARAMS);
  const email = optString(p.email, 'email');
  if (email !== undefined && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) {
    throw invalid(`Invalid email address: ${email}`, { code: 'email_invalid', param: 'email' });
  }
  const customer: StripeObject = {
    id: `cus_${randomId(14)}`,
    object: 'customer',
    address: optHash(p.address, 'address') ?? null,
    balance: optInt(p.balance, 'balance') ?? 0,
    created: nowSeconds(),
    currency: null,
    default_source: null,
    delinquent: false,
    description: optString(p.description, 'description') ?? null,
    discount: null,
    email: email ?? null,
    invoice_prefix: optString(p.invoice_prefix, 'invoice_prefix') ?? randomBytes(4).toString('hex').toUpperCase(),
    invoice_settings: { custom_fields: null, default_payment_method: null, footer: null, rendering_options: null },
    livemode: false,
    metadata: metadataParam(p.metadata),
    name: optString(p.name, 'name') ?? null,
    next_invoice_sequence: 1,
    phone: optString(p.phone, 'phone') ?? null,
    preferred_locales: optList(p.preferred_locales, 'preferred_locales') ?? [],
    shipping: optHash(p.shipping, 'shipping') ?? null,
    tax_exempt: optString(p.tax_exempt, 'tax_exempt') ?? 'none',
    test_clock: null,
  };
  sim.state.customers.set(customer.id, customer);
  return { status: 200, body: expand(sim, clone(customer), p) };
}
