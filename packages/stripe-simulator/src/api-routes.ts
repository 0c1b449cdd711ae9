/** The Stripe REST endpoints the simulator answers, and the small ones that need no file of their own. */
import { randomBytes } from 'node:crypto';
import { createSession, expireSession, sessionLineItems } from './checkout-sessions.js';
import type { SimulatorCore } from './core.js';
import { expand } from './expand.js';
import { createRefund } from './refunds.js';
import {
  allowOnly, invalid, metadataParam, noSuch, optHash, optInt, optList, optString,
  type RequestContext, type Reply, type Route,
} from './stripe-api.js';
import type { StripeEvent } from './stripe-events.js';
import { clone, nowSeconds, randomId, type StripeObject } from './state.js';

// Top-level parameters each endpoint accepts (from the SDK's *Params); others get a 400.
const CUSTOMER_CREATE_PARAMS = [
  'address', 'balance', 'business_name', 'cash_balance', 'description', 'email', 'expand', 'individual_name',
  'invoice_prefix', 'invoice_settings', 'metadata', 'name', 'next_invoice_sequence', 'payment_method', 'phone',
  'preferred_locales', 'shipping', 'source', 'tax', 'tax_exempt', 'tax_id_data', 'test_clock', 'validate',
] as const;
const EVENT_LIST_PARAMS = ['created', 'delivery_success', 'ending_before', 'expand', 'limit', 'starting_after', 'type', 'types'] as const;

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
    get(/^\/v1\/invoices\/([^/]+)$/, 'invoice', () => s.invoices),
    get(/^\/v1\/disputes\/([^/]+)$/, 'dispute', () => s.disputes),
    get(/^\/v1\/subscriptions\/([^/]+)$/, 'subscription', () => s.subscriptions),
    get(/^\/v1\/events\/([^/]+)$/, 'event', () => s.events as unknown as Map<string, StripeObject>),
    { method: 'GET', pattern: /^\/v1\/events$/, handler: (ctx) => listEvents(sim, ctx) },
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

function listEvents(sim: SimulatorCore, ctx: RequestContext): Reply {
  const p = ctx.params;
  allowOnly(p, EVENT_LIST_PARAMS);
  const limit = optInt(p.limit, 'limit') ?? 10;
  if (limit < 1 || limit > 100) throw invalid('Invalid limit: must be between 1 and 100', { param: 'limit' });
  const type = optString(p.type, 'type');
  const types = optList(p.types, 'types')?.map(String);
  if (type && types) throw invalid('You may only specify one of these parameters: type, types.', { code: 'parameters_exclusive', param: 'types' });
  const matchesType = (t: string) =>
    types ? types.includes(t) : !type ? true : type.includes('*') ? new RegExp(`^${type.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`).test(t) : t === type;
  const created = p.created;
  const createdFilter = (c: number): boolean => {
    if (created === undefined || created === '') return true;
    if (typeof created === 'string') return c === optInt(created, 'created');
    const range = optHash(created, 'created') ?? {};
    const bound = (k: string) => optInt(range[k], `created[${k}]`);
    const [gt, gte, lt, lte] = [bound('gt'), bound('gte'), bound('lt'), bound('lte')];
    return (gt === undefined || c > gt) && (gte === undefined || c >= gte) && (lt === undefined || c < lt) && (lte === undefined || c <= lte);
  };
  // Newest first, as Stripe lists.
  const all = [...sim.state.events.values()].reverse().filter((e) => matchesType(e.type) && createdFilter(e.created));
  const startingAfter = optString(p.starting_after, 'starting_after');
  const endingBefore = optString(p.ending_before, 'ending_before');
  let page: StripeEvent[];
  let hasMore: boolean;
  if (endingBefore) {
    const at = all.findIndex((e) => e.id === endingBefore);
    if (at < 0) throw noSuch('event', endingBefore, 'ending_before');
    page = all.slice(Math.max(0, at - limit), at);
    hasMore = at - limit > 0;
  } else {
    let from = 0;
    if (startingAfter) {
      const at = all.findIndex((e) => e.id === startingAfter);
      if (at < 0) throw noSuch('event', startingAfter, 'starting_after');
      from = at + 1;
    }
    page = all.slice(from, from + limit);
    hasMore = all.length > from + limit;
  }
  return { status: 200, body: expand(sim, { object: 'list', data: clone(page), has_more: hasMore, url: '/v1/events' }, p) };
}
