/**
 * An offline Stripe API for development and tests: a plain node:http server that answers the
 * Stripe REST calls Settle makes through the official SDK (customers, Checkout Sessions, payment
 * intents, charges, refunds, invoices, events), keeps its objects in memory, and moves a Checkout
 * Session through one of the scripted journeys of journeys.ts, delivering the resulting events to
 * a webhook endpoint signed exactly as Stripe signs them.
 *
 * Point the SDK at it with `new Stripe(key, { host, port, protocol: 'http' })` (Settle:
 * `STRIPE_API_BASE=http://127.0.0.1:12111`). Requests are form-encoded with bracket notation and
 * must carry `Authorization: Bearer sk_...`; errors have Stripe's shape and status codes, so the
 * SDK raises its usual error classes. `POST` honours `Idempotency-Key` like Stripe: a repeat with
 * the same parameters replays the stored response, other parameters get a 400 `idempotency_error`.
 *
 * Beside the API (all unauthenticated, for local use):
 *  - `GET /c/pay/:sessionId`: the session's "hosted checkout" page, one button per journey;
 *  - `POST /_sim/journeys/:journey` `{sessionId?, duplicates?, shuffle?, seed?, delayMs?}`: run a
 *    journey on a session (default: the newest open one) and answer with its deliveries;
 *  - `GET /_sim/sessions`, `GET /_sim/journeys`.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import qs from 'qs';
import {
  PAYMENT_JOURNEYS,
  SIMULATOR_API_VERSION,
  SUBSCRIPTION_JOURNEYS,
  deliveryOrder,
  isSubscriptionJourney,
  journeyEvents,
  seededRandom,
  subscriptionJourneyEvents,
  type Journey,
  type PaymentJourney,
  type StripeEvent,
} from './journeys.js';
import { deliverUntilAcknowledged } from './webhook-delivery.js';

export type StripeObject = { id: string; object: string; [field: string]: unknown };

/** A Price the simulator knows by id, for line items given as `{ price, quantity }`. */
export type KnownPrice = {
  unit_amount: number;
  currency: string;
  /** Product id; one is made up when absent. */
  product?: string;
  /** Shown as the line item's description. */
  name?: string;
  recurring?: { interval: 'day' | 'week' | 'month' | 'year'; interval_count?: number } | null;
};

export type StripeSimulatorOptions = {
  /** Default 0: an ephemeral port (see `port` / `url` on the result). */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Where events are delivered; without it events are only recorded (GET /v1/events). */
  webhookUrl?: string;
  /** The endpoint's signing secret (`whsec_...`); required with `webhookUrl`. */
  webhookSecret?: string;
  log?: (msg: string) => void;
  /** Prices known by id, e.g. `{ price_pro: { unit_amount: 1999, currency: 'usd' } }`. */
  prices?: Record<string, KnownPrice>;
  /** Attempts per event before a delivery is given up (default 50). */
  maxDeliveryAttempts?: number;
  /** Base of the linear retry backoff in ms (default 50, capped at 2 s). */
  retryDelayMs?: number;
};

export type SimulatorState = {
  customers: Map<string, StripeObject>;
  checkoutSessions: Map<string, StripeObject>;
  paymentIntents: Map<string, StripeObject>;
  charges: Map<string, StripeObject>;
  refunds: Map<string, StripeObject>;
  invoices: Map<string, StripeObject>;
  disputes: Map<string, StripeObject>;
  subscriptions: Map<string, StripeObject>;
  /** Every event, in the order it happened. */
  events: Map<string, StripeEvent>;
  prices: Map<string, KnownPrice>;
};

export type JourneyRunOptions = {
  /** Probability (0..1) that each event is delivered a second time, as Stripe sometimes does. */
  duplicates?: number;
  /** Deliver in a random order (replayable with `seed`). */
  shuffle?: boolean;
  seed?: number;
  /** Pause between deliveries. */
  delayMs?: number;
  /** `false` records the events and updates state without delivering them. */
  deliver?: boolean;
  /** Epoch seconds of the first event (default now). */
  startAt?: number;
};

export type EventDelivery = {
  eventId: string;
  type: string;
  ok: boolean;
  /** The acknowledging status, or the most frequent failure (0 = network error). */
  status: number;
  attempts: number;
  statuses: Record<number, number>;
};

export type JourneyRun = { events: StripeEvent[]; deliveries: EventDelivery[] };

export type StripeSimulator = {
  /** e.g. http://127.0.0.1:12111; use as Settle's STRIPE_API_BASE. */
  url: string;
  port: number;
  /** The live in-memory objects (mutating them changes what the API answers). */
  state: SimulatorState;
  /** Set or remove the webhook endpoint after start (e.g. once the receiver's port is known). */
  configureWebhook(webhook: { url: string; secret: string } | null): void;
  /** Payment journeys need a payment-mode session, subscription journeys a subscription-mode one. */
  runJourney(journey: Journey, sessionId: string, opts?: JourneyRunOptions): Promise<JourneyRun>;
  /** Every event so far, oldest first. */
  events(): StripeEvent[];
  /** Stops the server and any delivery in progress. */
  close(): Promise<void>;
};

/** A failure of the simulator's own API (control endpoints, runJourney), with an HTTP status. */
export class SimulatorError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'SimulatorError';
  }
}

export async function startStripeSimulator(opts: StripeSimulatorOptions = {}): Promise<StripeSimulator> {
  if (opts.webhookUrl && !opts.webhookSecret) throw new Error('startStripeSimulator: webhookSecret is required with webhookUrl');
  const sim = new Simulator(opts);
  const server = createServer((req, res) => {
    sim.handle(req, res).catch((err: unknown) => {
      sim.log(`internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end();
    });
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  sim.url = `http://${urlHost}:${port}`;
  sim.log(`Stripe simulator listening on ${sim.url}${sim.webhook ? `, delivering webhooks to ${sim.webhook.url}` : ''}`);
  let closing: Promise<void> | null = null;
  return {
    url: sim.url,
    port,
    state: sim.state,
    configureWebhook: (webhook) => {
      sim.webhook = webhook;
    },
    runJourney: (journey, sessionId, runOpts) => sim.runJourney(journey, sessionId, runOpts),
    events: () => [...sim.state.events.values()],
    close() {
      closing ??= (async () => {
        sim.abort.abort();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await closed;
        await Promise.allSettled([...sim.inFlight]);
      })();
      return closing;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Errors and parameters

/** An error answered in Stripe's shape: `{ error: { type, code, message, param } }`. */
class StripeApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly code?: string,
    readonly param?: string,
  ) {
    super(message);
  }
}

function invalid(message: string, o: { code?: string; param?: string; status?: number } = {}): StripeApiError {
  return new StripeApiError(o.status ?? 400, 'invalid_request_error', message, o.code, o.param);
}

/** 404 for the resource in the URL; 400 for a missing object referenced by a parameter. */
function noSuch(kind: string, id: string, param = 'id'): StripeApiError {
  return invalid(`No such ${kind}: '${id}'`, { code: 'resource_missing', param, status: param === 'id' ? 404 : 400 });
}

type Params = Record<string, unknown>;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function allowOnly(p: Params, allowed: readonly string[]): void {
  for (const key of Object.keys(p)) {
    if (!allowed.includes(key)) throw invalid(`Received unknown parameter: ${key}`, { code: 'parameter_unknown', param: key });
  }
}

function required<T>(v: T | undefined, param: string): T {
  if (v === undefined) throw invalid(`Missing required param: ${param}.`, { code: 'parameter_missing', param });
  return v;
}

/** A string parameter; Stripe reads an empty string as "not set". */
function optString(v: unknown, param: string): string | undefined {
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string') throw invalid(`Invalid string: ${JSON.stringify(v)}`, { param });
  return v;
}

function optInt(v: unknown, param: string): number | undefined {
  const s = optString(v, param);
  if (s === undefined) return undefined;
  if (!/^-?\d+$/.test(s) || !Number.isSafeInteger(Number(s))) {
    throw invalid(`Invalid integer: ${s}`, { code: 'parameter_invalid_integer', param });
  }
  return Number(s);
}

function optBool(v: unknown, param: string): boolean | undefined {
  const s = optString(v, param);
  if (s === undefined) return undefined;
  if (s !== 'true' && s !== 'false') throw invalid(`Invalid boolean: ${s}`, { param });
  return s === 'true';
}

function optEnum<T extends string>(v: unknown, param: string, values: readonly T[]): T | undefined {
  const s = optString(v, param);
  if (s === undefined) return undefined;
  if (!(values as readonly string[]).includes(s)) throw invalid(`Invalid ${param}: must be one of ${values.join(', ')}`, { param });
  return s as T;
}

function optHash(v: unknown, param: string): Record<string, unknown> | undefined {
  if (v === undefined || v === '') return undefined;
  if (!isRecord(v)) throw invalid('Invalid hash', { param });
  return v;
}

/** An array parameter, sent as `a[0]=x&a[1]=y` (or `a[]=x`). */
function optList(v: unknown, param: string): unknown[] | undefined {
  if (v === undefined || v === '') return undefined;
  if (Array.isArray(v)) return v;
  if (isRecord(v) && Object.keys(v).every((k) => /^\d+$/.test(k))) {
    return Object.keys(v).sort((a, b) => Number(a) - Number(b)).map((k) => v[k]);
  }
  throw invalid('Invalid array', { param });
}

function currencyParam(v: unknown, param: string): string {
  const c = required(optString(v, param), param).toLowerCase();
  if (!/^[a-z]{3}$/.test(c)) throw invalid(`Invalid currency: ${c}.`, { param });
  return c;
}

function metadataParam(v: unknown, param = 'metadata'): Record<string, string> {
  const hash = optHash(v, param);
  const out: Record<string, string> = {};
  if (!hash) return out;
  for (const [key, value] of Object.entries(hash)) {
    if (value === '') continue;
    if (typeof value !== 'string') throw invalid(`Invalid value for ${param}[${key}]: metadata values must be strings.`, { param: `${param}[${key}]` });
    if (key.length > 40) throw invalid(`Metadata keys can have up to 40 characters, but you passed in a key that is ${key.length} characters long.`, { param: `${param}[${key}]` });
    if (value.length > 500) throw invalid(`Metadata values can have up to 500 characters, but you passed in a value that is ${value.length} characters long.`, { param: `${param}[${key}]` });
    out[key] = value;
  }
  if (Object.keys(out).length > 50) throw invalid('You can have up to 50 keys in metadata.', { param });
  return out;
}

function urlParam(v: unknown, param: string): string | undefined {
  const s = optString(v, param);
  if (s === undefined) return undefined;
  if (!/^https?:\/\/[^\s]+$/i.test(s)) throw invalid('Not a valid URL', { code: 'url_invalid', param });
  return s;
}

// Top-level parameters each endpoint accepts (from the SDK's *CreateParams); others get a 400.
const CUSTOMER_CREATE_PARAMS = [
  'address', 'balance', 'business_name', 'cash_balance', 'description', 'email', 'expand', 'individual_name',
  'invoice_prefix', 'invoice_settings', 'metadata', 'name', 'next_invoice_sequence', 'payment_method', 'phone',
  'preferred_locales', 'shipping', 'source', 'tax', 'tax_exempt', 'tax_id_data', 'test_clock', 'validate',
] as const;
const SESSION_CREATE_PARAMS = [
  'adaptive_pricing', 'after_expiration', 'allow_promotion_codes', 'allowed_payment_method_types', 'automatic_tax',
  'billing_address_collection', 'branding_settings', 'cancel_url', 'client_reference_id', 'consent_collection',
  'currency', 'custom_fields', 'custom_text', 'customer', 'customer_account', 'customer_creation', 'customer_email',
  'customer_update', 'discounts', 'excluded_payment_method_types', 'expand', 'expires_at', 'integration_identifier',
  'invoice_creation', 'line_items', 'locale', 'managed_payments', 'metadata', 'mode', 'name_collection',
  'optional_items', 'origin_context', 'payment_intent_data', 'payment_method_collection',
  'payment_method_configuration', 'payment_method_data', 'payment_method_options', 'payment_method_types',
  'permissions', 'phone_number_collection', 'redirect_on_completion', 'return_url', 'saved_payment_method_options',
  'setup_intent_data', 'shipping_address_collection', 'shipping_options', 'submit_type', 'subscription_data',
  'success_url', 'tax_id_collection', 'ui_mode', 'wallet_options',
] as const;
const REFUND_CREATE_PARAMS = [
  'amount', 'charge', 'currency', 'customer', 'expand', 'instructions_email', 'metadata', 'origin', 'payment_intent',
  'reason', 'refund_application_fee', 'reverse_transfer',
] as const;
const EVENT_LIST_PARAMS = ['created', 'delivery_success', 'ending_before', 'expand', 'limit', 'starting_after', 'type', 'types'] as const;

// ---------------------------------------------------------------------------------------------
// Helpers

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function randomId(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const b of bytes) out += BASE62[b % 62];
  return out;
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

/** JSON with sorted keys, to compare the parameters of two requests. */
function stableStringify(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(',')}]`;
  if (isRecord(v)) {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${stableStringify(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

function money(amount: number, currency: string): string {
  return `${(amount / 100).toFixed(2)} ${currency.toUpperCase()}`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new StripeApiError(413, 'invalid_request_error', 'Request body too large.'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseForm(raw: string): Params {
  return qs.parse(raw, { depth: 20, arrayLimit: 1000, parameterLimit: 10_000 }) as Params;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

type RequestContext = {
  method: string;
  path: string;
  params: Params;
  requestId: string;
  idempotencyKey: string | null;
};

type Reply = { status: number; body: unknown };

type Route = { method: 'GET' | 'POST'; pattern: RegExp; handler: (ctx: RequestContext, id: string) => Reply };

/** What a session was created with that its object does not show. */
type SessionExtras = {
  paymentIntentMetadata: Record<string, string>;
  invoiceEnabled: boolean;
  invoiceMetadata: Record<string, string>;
  /** `subscription_data.metadata` (subscription mode). */
  subscriptionMetadata: Record<string, string>;
  lineItems: StripeObject[];
};

type IdempotentResult = { method: string; path: string; fingerprint: string; status: number; body: string; requestId: string };

// ---------------------------------------------------------------------------------------------
// The simulator

class Simulator {
  url = '';
  webhook: { url: string; secret: string } | null;
  readonly state: SimulatorState;
  readonly abort = new AbortController();
  readonly inFlight = new Set<Promise<unknown>>();
  private readonly sessionExtras = new Map<string, SessionExtras>();
  private readonly idempotent = new Map<string, IdempotentResult>();
  /** Makes journey ids unique across simulator restarts (Settle's database outlives us). */
  private readonly idSuffix = randomId(4);
  private readonly routes: Route[];

  constructor(private readonly opts: StripeSimulatorOptions) {
    this.webhook = opts.webhookUrl && opts.webhookSecret ? { url: opts.webhookUrl, secret: opts.webhookSecret } : null;
    this.state = {
      customers: new Map(),
      checkoutSessions: new Map(),
      paymentIntents: new Map(),
      charges: new Map(),
      refunds: new Map(),
      invoices: new Map(),
      disputes: new Map(),
      subscriptions: new Map(),
      events: new Map(),
      prices: new Map(Object.entries(opts.prices ?? {})),
    };
    const s = this.state;
    const get = (pattern: RegExp, kind: string, map: () => Map<string, StripeObject>): Route => ({
      method: 'GET',
      pattern,
      handler: (ctx, id) => {
        allowOnly(ctx.params, ['expand']);
        const obj = map().get(id);
        if (!obj) throw noSuch(kind, id);
        return { status: 200, body: this.expand(clone(obj), ctx.params) };
      },
    });
    this.routes = [
      { method: 'POST', pattern: /^\/v1\/customers$/, handler: (ctx) => this.createCustomer(ctx) },
      get(/^\/v1\/customers\/([^/]+)$/, 'customer', () => s.customers),
      { method: 'POST', pattern: /^\/v1\/checkout\/sessions$/, handler: (ctx) => this.createSession(ctx) },
      get(/^\/v1\/checkout\/sessions\/([^/]+)$/, 'checkout.session', () => s.checkoutSessions),
      { method: 'GET', pattern: /^\/v1\/checkout\/sessions\/([^/]+)\/line_items$/, handler: (ctx, id) => this.sessionLineItems(ctx, id) },
      { method: 'POST', pattern: /^\/v1\/checkout\/sessions\/([^/]+)\/expire$/, handler: (ctx, id) => this.expireSession(ctx, id) },
      get(/^\/v1\/payment_intents\/([^/]+)$/, 'payment_intent', () => s.paymentIntents),
      get(/^\/v1\/charges\/([^/]+)$/, 'charge', () => s.charges),
      { method: 'POST', pattern: /^\/v1\/refunds$/, handler: (ctx) => this.createRefund(ctx) },
      get(/^\/v1\/refunds\/([^/]+)$/, 'refund', () => s.refunds),
      get(/^\/v1\/invoices\/([^/]+)$/, 'invoice', () => s.invoices),
      get(/^\/v1\/disputes\/([^/]+)$/, 'dispute', () => s.disputes),
      get(/^\/v1\/subscriptions\/([^/]+)$/, 'subscription', () => s.subscriptions),
      get(/^\/v1\/events\/([^/]+)$/, 'event', () => s.events as unknown as Map<string, StripeObject>),
      { method: 'GET', pattern: /^\/v1\/events$/, handler: (ctx) => this.listEvents(ctx) },
    ];
  }

  log(msg: string): void {
    this.opts.log?.(msg);
  }

  // -- HTTP -------------------------------------------------------------------------------------

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = Date.now();
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'http://simulator');
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
    const requestId = `req_${randomId(14)}`;
    const headers: Record<string, string> = { 'request-id': requestId };
    const send = (status: number, body: unknown, extra: Record<string, string> = {}) => {
      const json = typeof body === 'string' ? body : `${JSON.stringify(body, null, 2)}\n`;
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json), ...headers, ...extra });
      res.end(json);
      this.log(`${method} ${url.pathname} → ${status}${extra['idempotent-replayed'] ? ' (idempotent replay)' : ''} (${Date.now() - started} ms)`);
    };
    try {
      const raw = await readBody(req, 1_000_000);
      if (path === '/' && method === 'GET') {
        return send(200, { simulator: 'settle-stripe-simulator', api_version: SIMULATOR_API_VERSION, journeys: PAYMENT_JOURNEYS, subscription_journeys: SUBSCRIPTION_JOURNEYS });
      }
      if (path.startsWith('/_sim/')) return await this.control(method, path, raw, send);
      if (path.startsWith('/c/pay/')) return this.checkoutPage(method, path, raw, res);

      headers['stripe-version'] = typeof req.headers['stripe-version'] === 'string' ? req.headers['stripe-version'] : SIMULATOR_API_VERSION;
      this.authenticate(req.headers.authorization);
      if (method === 'POST' && raw.length > 0) {
        const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        if (type !== 'application/x-www-form-urlencoded') {
          throw invalid(`Invalid request: unsupported Content-Type ${type || '(none)'}. If error persists and you need assistance, please contact support@stripe.com.`);
        }
      }
      const params: Params = { ...parseForm(url.search.slice(1)), ...(method === 'POST' ? parseForm(raw) : {}) };
      const keyHeader = req.headers['idempotency-key'];
      const idempotencyKey = method === 'POST' && typeof keyHeader === 'string' && keyHeader !== '' ? keyHeader : null;
      if (idempotencyKey) headers['idempotency-key'] = idempotencyKey;

      let route: Route | undefined;
      let id = '';
      for (const r of this.routes) {
        const m = r.method === method ? r.pattern.exec(path) : null;
        if (m) {
          route = r;
          id = decodeURIComponent(m[1] ?? '');
          break;
        }
      }
      if (!route) {
        throw invalid(
          `Unrecognized request URL (${method}: ${path}). The Settle Stripe simulator implements customers, checkout sessions, payment intents, charges, refunds, invoices, disputes and events; see packages/stripe-simulator/src/simulator.ts.`,
          { status: 404 },
        );
      }

      const fingerprint = stableStringify(params);
      if (idempotencyKey) {
        if (idempotencyKey.length > 255) throw invalid('Idempotency keys can be at most 255 characters long.', { param: 'Idempotency-Key' });
        const stored = this.idempotent.get(idempotencyKey);
        if (stored) {
          const tryOther = `Try using a key other than '${idempotencyKey}' if you meant to execute a different request.`;
          if (stored.method !== method || stored.path !== path) {
            throw new StripeApiError(400, 'idempotency_error',
              `Keys for idempotent requests can only be used for the same endpoint they were first used for ('${stored.method} ${stored.path}' vs '${method} ${path}'). ${tryOther}`);
          }
          if (stored.fingerprint !== fingerprint) {
            throw new StripeApiError(400, 'idempotency_error', `Keys for idempotent requests can only be used with the same parameters they were used with. ${tryOther}`);
          }
          return send(stored.status, stored.body, { 'idempotent-replayed': 'true', 'original-request': stored.requestId });
        }
      }

      const reply = route.handler({ method, path, params, requestId, idempotencyKey }, id);
      const body = `${JSON.stringify(reply.body, null, 2)}\n`;
      // Like Stripe, only a request that ran is remembered; one refused by validation is not.
      if (idempotencyKey && reply.status < 300) {
        this.idempotent.set(idempotencyKey, { method, path, fingerprint, status: reply.status, body, requestId });
      }
      return send(reply.status, body);
    } catch (err) {
      if (err instanceof SimulatorError) return send(err.status, { error: { message: err.message } });
      if (!(err instanceof StripeApiError)) throw err;
      const error: Record<string, unknown> = { type: err.type, message: err.message };
      if (err.code) {
        error.code = err.code;
        error.doc_url = `https://stripe.com/docs/error-codes/${err.code.replaceAll('_', '-')}`;
      }
      if (err.param) error.param = err.param;
      error.request_log_url = `https://dashboard.stripe.com/test/logs/${requestId}`;
      return send(err.status, { error }, err.status === 401 ? { 'www-authenticate': 'Bearer realm="Stripe"' } : {});
    }
  }

  private authenticate(header: string | undefined): void {
    let key = '';
    if (header?.startsWith('Bearer ')) key = header.slice(7).trim();
    else if (header?.startsWith('Basic ')) key = Buffer.from(header.slice(6), 'base64').toString('utf8').split(':')[0] ?? '';
    if (!key) {
      throw new StripeApiError(401, 'invalid_request_error',
        "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.");
    }
    if (/^pk_/.test(key)) throw new StripeApiError(401, 'invalid_request_error', 'This API call cannot be made with a publishable API key. Please use a secret API key.');
    if (!/^(sk|rk)_(test|live)_[A-Za-z0-9_]+$/.test(key)) {
      const shown = key.length > 12 ? `${key.slice(0, 8)}${'*'.repeat(key.length - 12)}${key.slice(-4)}` : key;
      throw new StripeApiError(401, 'invalid_request_error', `Invalid API Key provided: ${shown}`);
    }
  }

  // -- Expansion --------------------------------------------------------------------------------

  private lookup(id: string): StripeObject | StripeEvent | undefined {
    const s = this.state;
    const byPrefix: [string, Map<string, StripeObject> | Map<string, StripeEvent>][] = [
      ['cus_', s.customers], ['cs_', s.checkoutSessions], ['pi_', s.paymentIntents], ['ch_', s.charges], ['re_', s.refunds],
      ['in_', s.invoices], ['dp_', s.disputes], ['du_', s.disputes], ['sub_', s.subscriptions], ['evt_', s.events],
    ];
    for (const [prefix, map] of byPrefix) if (id.startsWith(prefix)) return map.get(id);
    return undefined;
  }

  /** Apply `expand[]` (dotted paths, `data.` for lists) to a copy about to be answered. */
  private expand<T>(target: T, params: Params): T {
    const paths = optList(params.expand, 'expand') ?? [];
    for (const [i, path] of paths.entries()) {
      if (typeof path !== 'string') throw invalid('Invalid string', { param: `expand[${i}]` });
      this.expandPath(target, path.split('.'), path);
    }
    return target;
  }

  private expandPath(target: unknown, segments: string[], full: string): void {
    const [head, ...rest] = segments;
    if (head === undefined || !isRecord(target)) return;
    if (head === 'data' && target.object === 'list' && Array.isArray(target.data)) {
      for (const item of target.data) this.expandPath(item, rest, full);
      return;
    }
    if (head === 'line_items' && target.object === 'checkout.session' && typeof target.id === 'string') {
      target.line_items = this.lineItemList(target.id);
      this.expandPath(target.line_items, rest, full);
      return;
    }
    let value = target[head];
    if (typeof value === 'string') {
      const found = this.lookup(value);
      if (!found) throw invalid(`This property cannot be expanded (${full}). The simulator expands ids of the objects it stores.`, { param: 'expand' });
      value = target[head] = clone(found);
    } else if (value !== null && !isRecord(value)) {
      throw invalid(`This property cannot be expanded (${full}).`, { param: 'expand' });
    }
    this.expandPath(value, rest, full);
  }

  // -- Customers --------------------------------------------------------------------------------

  private createCustomer(ctx: RequestContext): Reply {
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
    this.state.customers.set(customer.id, customer);
    return { status: 200, body: this.expand(clone(customer), p) };
  }

  // -- Checkout Sessions ------------------------------------------------------------------------

  private createSession(ctx: RequestContext): Reply {
    const p = ctx.params;
    allowOnly(p, SESSION_CREATE_PARAMS);
    const mode = required(optString(p.mode, 'mode'), 'mode');
    if (mode === 'setup') throw invalid('The Settle Stripe simulator supports Checkout in `payment` and `subscription` mode only.', { param: 'mode' });
    if (mode !== 'payment' && mode !== 'subscription') throw invalid(`Invalid mode: must be one of payment, setup or subscription`, { param: 'mode' });
    const now = nowSeconds();

    const customerId = optString(p.customer, 'customer');
    const customerEmail = optString(p.customer_email, 'customer_email');
    if (customerId && customerEmail) {
      throw invalid('You may only specify one of these parameters: customer, customer_email.', { code: 'parameters_exclusive', param: 'customer_email' });
    }
    if (customerId && !this.state.customers.has(customerId)) throw noSuch('customer', customerId, 'customer');

    // Line items and the amount.
    const rawItems = optList(p.line_items, 'line_items');
    if (!rawItems || rawItems.length === 0) throw invalid('Missing required param: line_items.', { code: 'parameter_missing', param: 'line_items' });
    if (rawItems.length > 100) throw invalid('You may only specify up to 100 line items.', { param: 'line_items' });
    let currency: string | null = null;
    let total = 0;
    let recurringCount = 0;
    const lineItems = rawItems.map((raw, i): StripeObject => {
      const param = `line_items[${i}]`;
      if (!isRecord(raw)) throw invalid('Invalid hash', { param });
      const quantity = required(optInt(raw.quantity, `${param}[quantity]`), `${param}[quantity]`);
      if (quantity < 1) throw invalid('This value must be greater than or equal to 1.', { code: 'parameter_invalid_integer', param: `${param}[quantity]` });
      const priceId = optString(raw.price, `${param}[price]`);
      const priceData = optHash(raw.price_data, `${param}[price_data]`);
      if (priceId && priceData) {
        throw invalid(`You may only specify one of these parameters: ${param}[price], ${param}[price_data].`, { code: 'parameters_exclusive', param: `${param}[price_data]` });
      }
      let price: { id: string; active: boolean; unit: number; decimal: string; currency: string; product: string; name: string; recurring: KnownPrice['recurring'] };
      if (priceId) {
        const known = this.state.prices.get(priceId);
        if (!known) throw noSuch('price', priceId, `${param}[price]`);
        price = {
          id: priceId, active: true, unit: known.unit_amount, decimal: String(known.unit_amount), currency: known.currency.toLowerCase(),
          product: known.product ?? `prod_${randomId(14)}`, name: known.name ?? priceId, recurring: known.recurring ?? null,
        };
      } else if (priceData) {
        const pd = `${param}[price_data]`;
        const cur = currencyParam(priceData.currency, `${pd}[currency]`);
        const unit = optInt(priceData.unit_amount, `${pd}[unit_amount]`);
        const decimal = optString(priceData.unit_amount_decimal, `${pd}[unit_amount_decimal]`);
        if (unit !== undefined && decimal !== undefined) {
          throw invalid(`You may only specify one of these parameters: ${pd}[unit_amount], ${pd}[unit_amount_decimal].`, { code: 'parameters_exclusive', param: `${pd}[unit_amount]` });
        }
        if (unit === undefined && decimal === undefined) throw invalid(`Missing required param: ${pd}[unit_amount].`, { code: 'parameter_missing', param: `${pd}[unit_amount]` });
        if (decimal !== undefined && !/^\d+(\.\d{1,12})?$/.test(decimal)) throw invalid(`Invalid decimal: ${decimal}`, { param: `${pd}[unit_amount_decimal]` });
        const unitAmount = unit ?? Number(decimal);
        if (unitAmount < 0) throw invalid('This value must be greater than or equal to 0.', { param: `${pd}[unit_amount]` });
        const product = optString(priceData.product, `${pd}[product]`);
        const productData = optHash(priceData.product_data, `${pd}[product_data]`);
        if (product && productData) throw invalid(`You may only specify one of these parameters: ${pd}[product], ${pd}[product_data].`, { code: 'parameters_exclusive', param: `${pd}[product_data]` });
        if (!product && !productData) throw invalid(`Missing required param: ${pd}[product_data].`, { code: 'parameter_missing', param: `${pd}[product_data]` });
        const name = productData ? required(optString(productData.name, `${pd}[product_data][name]`), `${pd}[product_data][name]`) : product!;
        const recurringRaw = optHash(priceData.recurring, `${pd}[recurring]`);
        const recurring = recurringRaw
          ? {
              interval: required(optEnum(recurringRaw.interval, `${pd}[recurring][interval]`, ['day', 'week', 'month', 'year'] as const), `${pd}[recurring][interval]`),
              interval_count: optInt(recurringRaw.interval_count, `${pd}[recurring][interval_count]`) ?? 1,
            }
          : null;
        price = {
          id: `price_${randomId(24)}`, active: false, unit: unitAmount, decimal: decimal ?? String(unitAmount), currency: cur,
          product: product ?? `prod_${randomId(14)}`, name, recurring,
        };
      } else {
        throw invalid(`You must specify either \`price\` or \`price_data\` for ${param}.`, { code: 'parameter_missing', param: `${param}[price]` });
      }
      if (currency !== null && price.currency !== currency) {
        throw invalid(`All line items must use the same currency; ${param} is in ${price.currency}, earlier items in ${currency}.`, { param });
      }
      currency = price.currency;
      if (price.recurring) {
        recurringCount += 1;
        if (mode === 'payment') {
          throw invalid('You specified `payment` mode but passed a recurring price. Either switch to `subscription` mode or use only one-time prices.', { param });
        }
      }
      const amount = Math.round(price.unit * quantity);
      total += amount;
      return {
        id: `li_${randomId(24)}`,
        object: 'item',
        amount_discount: 0,
        amount_subtotal: amount,
        amount_tax: 0,
        amount_total: amount,
        currency: price.currency,
        description: price.name,
        metadata: metadataParam(raw.metadata, `${param}[metadata]`),
        price: {
          id: price.id, object: 'price', active: price.active, billing_scheme: 'per_unit', created: now, currency: price.currency,
          custom_unit_amount: null, livemode: false, lookup_key: null, metadata: {}, nickname: null, product: price.product,
          recurring: price.recurring
            ? { interval: price.recurring.interval, interval_count: price.recurring.interval_count ?? 1, meter: null, trial_period_days: null, usage_type: 'licensed' }
            : null,
          tax_behavior: 'unspecified', tiers_mode: null, transform_quantity: null, type: price.recurring ? 'recurring' : 'one_time',
          unit_amount: Number.isInteger(price.unit) ? price.unit : null, unit_amount_decimal: price.decimal,
        },
        quantity,
        adjustable_quantity: null,
      };
    });
    if (mode === 'subscription' && recurringCount === 0) {
      throw invalid('You must provide at least one recurring price in `subscription` mode when using prices.', { param: 'line_items' });
    }

    // What the payment intent and invoice will carry.
    const pid = optHash(p.payment_intent_data, 'payment_intent_data');
    if (pid && mode !== 'payment') throw invalid(`You can not pass \`payment_intent_data\` in \`${mode}\` mode.`, { param: 'payment_intent_data' });
    const ic = optHash(p.invoice_creation, 'invoice_creation');
    if (ic && mode !== 'payment') throw invalid('You can only use `invoice_creation` in `payment` mode.', { param: 'invoice_creation' });
    const invoiceEnabled = ic ? required(optBool(ic.enabled, 'invoice_creation[enabled]'), 'invoice_creation[enabled]') : false;
    const invoiceData = ic ? optHash(ic.invoice_data, 'invoice_creation[invoice_data]') : undefined;
    const invoiceMetadata = metadataParam(invoiceData?.metadata, 'invoice_creation[invoice_data][metadata]');
    const sd = optHash(p.subscription_data, 'subscription_data');
    if (sd && mode !== 'subscription') throw invalid(`You can not pass \`subscription_data\` in \`${mode}\` mode.`, { param: 'subscription_data' });
    const subscriptionMetadata = metadataParam(sd?.metadata, 'subscription_data[metadata]');

    const expiresAt = optInt(p.expires_at, 'expires_at') ?? now + 86_400;
    if (expiresAt < now + 1800) throw invalid('The `expires_at` timestamp must be at least 30 minutes from Checkout Session creation.', { param: 'expires_at' });
    if (expiresAt > now + 86_400) throw invalid('The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.', { param: 'expires_at' });
    const uiMode = optString(p.ui_mode, 'ui_mode') ?? 'hosted';
    const hosted = uiMode === 'hosted' || uiMode === 'hosted_page';
    const id = `cs_test_a1${randomId(56)}`;
    const paymentMethodTypes = (optList(p.payment_method_types, 'payment_method_types') ?? ['card']).map((t, i) => required(optString(t, `payment_method_types[${i}]`), `payment_method_types[${i}]`));

    const session: StripeObject = {
      id,
      object: 'checkout.session',
      adaptive_pricing: { enabled: false },
      after_expiration: null,
      allow_promotion_codes: optBool(p.allow_promotion_codes, 'allow_promotion_codes') ?? null,
      amount_subtotal: total,
      amount_total: total,
      automatic_tax: { enabled: false, liability: null, provider: null, status: null },
      billing_address_collection: optString(p.billing_address_collection, 'billing_address_collection') ?? null,
      cancel_url: urlParam(p.cancel_url, 'cancel_url') ?? null,
      client_reference_id: optString(p.client_reference_id, 'client_reference_id') ?? null,
      client_secret: hosted ? null : `${id}_secret_${randomId(24)}`,
      collected_information: null,
      consent: null,
      consent_collection: null,
      created: now,
      currency,
      currency_conversion: null,
      custom_fields: [],
      custom_text: { after_submit: null, shipping_address: null, submit: null, terms_of_service_acceptance: null },
      customer: customerId ?? null,
      customer_account: null,
      customer_creation: customerId || mode === 'subscription' ? null : 'if_required',
      customer_details: null,
      customer_email: customerEmail ?? null,
      discounts: [],
      expires_at: expiresAt,
      invoice: null,
      invoice_creation: mode === 'payment'
        ? {
            enabled: invoiceEnabled,
            invoice_data: {
              account_tax_ids: null, custom_fields: null, description: optString(invoiceData?.description, 'invoice_creation[invoice_data][description]') ?? null,
              footer: null, issuer: null, metadata: invoiceEnabled ? invoiceMetadata : null, rendering_options: null,
            },
          }
        : null,
      livemode: false,
      locale: optString(p.locale, 'locale') ?? null,
      metadata: metadataParam(p.metadata),
      mode,
      origin_context: null,
      payment_intent: null,
      payment_link: null,
      payment_method_collection: mode === 'subscription' ? 'always' : 'if_required',
      payment_method_configuration_details: null,
      payment_method_options: {},
      payment_method_types: paymentMethodTypes,
      payment_status: 'unpaid',
      permissions: null,
      phone_number_collection: { enabled: false },
      recovered_from: null,
      saved_payment_method_options: null,
      setup_intent: null,
      shipping_address_collection: null,
      shipping_cost: null,
      shipping_options: [],
      status: 'open',
      submit_type: optString(p.submit_type, 'submit_type') ?? null,
      subscription: null,
      success_url: urlParam(p.success_url, 'success_url') ?? null,
      total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
      ui_mode: uiMode,
      url: hosted ? `${this.url}/c/pay/${id}` : null,
      wallet_options: null,
    };
    this.state.checkoutSessions.set(id, session);
    this.sessionExtras.set(id, {
      paymentIntentMetadata: metadataParam(pid?.metadata, 'payment_intent_data[metadata]'),
      invoiceEnabled,
      invoiceMetadata,
      subscriptionMetadata,
      lineItems,
    });
    return { status: 200, body: this.expand(clone(session), p) };
  }

  private lineItemList(sessionId: string) {
    return { object: 'list', data: clone(this.sessionExtras.get(sessionId)?.lineItems ?? []), has_more: false, url: `/v1/checkout/sessions/${sessionId}/line_items` };
  }

  private sessionLineItems(ctx: RequestContext, id: string): Reply {
    allowOnly(ctx.params, ['ending_before', 'expand', 'limit', 'starting_after']);
    if (!this.state.checkoutSessions.has(id)) throw noSuch('checkout.session', id);
    return { status: 200, body: this.expand(this.lineItemList(id), ctx.params) };
  }

  private expireSession(ctx: RequestContext, id: string): Reply {
    allowOnly(ctx.params, ['expand']);
    const session = this.state.checkoutSessions.get(id);
    if (!session) throw noSuch('checkout.session', id);
    if (session.status !== 'open') {
      throw invalid(`Only Checkout Sessions with a status in ["open"] can be expired. This Checkout Session has a status of "${String(session.status)}".`);
    }
    const previous = { status: session.status, url: session.url };
    Object.assign(session, { status: 'expired', url: null });
    this.emit([this.apiEvent('checkout.session.expired', session, ctx, previous)]);
    return { status: 200, body: this.expand(clone(session), ctx.params) };
  }

  // -- Refunds ----------------------------------------------------------------------------------

  private createRefund(ctx: RequestContext): Reply {
    const p = ctx.params;
    allowOnly(p, REFUND_CREATE_PARAMS);
    const piId = optString(p.payment_intent, 'payment_intent');
    const chargeId = optString(p.charge, 'charge');
    if (!piId && !chargeId) {
      throw invalid('One of the following params should be provided for this request: payment_intent or charge.', { code: 'parameter_missing', param: 'payment_intent' });
    }
    let charge: StripeObject | undefined;
    if (chargeId) {
      charge = this.state.charges.get(chargeId);
      if (!charge) throw noSuch('charge', chargeId, 'charge');
    }
    if (piId) {
      const intent = this.state.paymentIntents.get(piId);
      if (!intent) throw noSuch('payment_intent', piId, 'payment_intent');
      if (charge && charge.payment_intent !== piId) throw invalid(`Charge ${charge.id} does not belong to PaymentIntent ${piId}.`, { param: 'charge' });
      const latest = typeof intent.latest_charge === 'string' ? this.state.charges.get(intent.latest_charge) : undefined;
      if (intent.status !== 'succeeded' || !latest) {
        throw invalid(`This PaymentIntent (${piId}) does not have a successful charge to refund.`, { code: 'charge_not_refundable', param: 'payment_intent' });
      }
      charge ??= latest;
    }
    if (!charge) throw new Error('unreachable: refund without a charge');
    if (charge.status !== 'succeeded') throw invalid(`Charge ${charge.id} has not succeeded and cannot be refunded.`, { code: 'charge_not_refundable', param: 'charge' });
    if (charge.disputed === true) {
      throw invalid(`Charge ${charge.id} has been charged back; cannot issue a refund.`, { code: 'charge_disputed', param: chargeId ? 'charge' : 'payment_intent' });
    }
    const chargeAmount = charge.amount as number;
    const refunded = (charge.amount_refunded as number | undefined) ?? 0;
    const currency = charge.currency as string;
    const remaining = chargeAmount - refunded;
    if (remaining <= 0) throw invalid(`Charge ${charge.id} has already been refunded.`, { code: 'charge_already_refunded' });
    const amount = optInt(p.amount, 'amount') ?? remaining;
    if (amount < 1) throw invalid('Invalid positive integer', { code: 'parameter_invalid_integer', param: 'amount' });
    if (amount > remaining) {
      throw invalid(`Refund amount (${money(amount, currency)}) is greater than unrefunded amount on charge (${money(remaining, currency)})`, { code: 'amount_too_large', param: 'amount' });
    }
    const reason = optEnum(p.reason, 'reason', ['duplicate', 'fraudulent', 'requested_by_customer'] as const) ?? null;
    const now = nowSeconds();
    const refund: StripeObject = {
      id: `re_${randomId(24)}`,
      object: 'refund',
      amount,
      balance_transaction: `txn_${randomId(24)}`,
      charge: charge.id,
      created: now,
      currency,
      customer: charge.customer ?? null,
      customer_account: null,
      destination_details: { card: { reference_status: 'pending', reference_type: 'acquirer_reference_number', type: 'refund' }, type: 'card' },
      metadata: metadataParam(p.metadata),
      payment_intent: charge.payment_intent ?? null,
      payment_method: charge.payment_method ?? null,
      reason,
      receipt_number: null,
      source_transfer_reversal: null,
      status: 'succeeded',
      transfer_reversal: null,
    };
    this.state.refunds.set(refund.id, refund);
    const previous = { amount_refunded: refunded, refunded: charge.refunded ?? false };
    Object.assign(charge, { amount_refunded: refunded + amount, refunded: refunded + amount === chargeAmount });
    this.emit([this.apiEvent('charge.refunded', charge, ctx, previous), this.apiEvent('refund.created', refund, ctx)]);
    return { status: 200, body: this.expand(clone(refund), p) };
  }

  // -- Events -----------------------------------------------------------------------------------

  private listEvents(ctx: RequestContext): Reply {
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
    const all = [...this.state.events.values()].reverse().filter((e) => matchesType(e.type) && createdFilter(e.created));
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
    return { status: 200, body: this.expand({ object: 'list', data: clone(page), has_more: hasMore, url: '/v1/events' }, p) };
  }

  private apiEvent(type: string, object: StripeObject, ctx: RequestContext, previous?: Record<string, unknown>): StripeEvent {
    return {
      id: `evt_${randomId(24)}`,
      object: 'event',
      api_version: SIMULATOR_API_VERSION,
      created: nowSeconds(),
      livemode: false,
      pending_webhooks: this.webhook ? 1 : 0,
      request: { id: ctx.requestId, idempotency_key: ctx.idempotencyKey },
      type,
      data: { object: clone(object), ...(previous ? { previous_attributes: previous } : {}) },
    };
  }

  /** Record events caused by an API call and deliver them in the background. */
  private emit(events: StripeEvent[]): void {
    for (const ev of events) this.state.events.set(ev.id, ev);
    if (!this.webhook) return;
    this.track(this.deliver(events, {}).catch((err: unknown) => this.log(`webhook delivery failed: ${String(err)}`)));
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p)).catch(() => undefined);
    return p;
  }

  // -- Journeys ---------------------------------------------------------------------------------

  async runJourney(journey: Journey, sessionId: string, opts: JourneyRunOptions = {}): Promise<JourneyRun> {
    const events = this.applyJourney(journey, sessionId, opts.startAt);
    const deliveries = opts.deliver === false ? [] : await this.track(this.deliver(events, opts));
    return { events: clone(events), deliveries };
  }

  /** Move the session through the journey: state now matches what its events say. */
  private applyJourney(journey: Journey, sessionId: string, startAt = nowSeconds()): StripeEvent[] {
    const subscription = isSubscriptionJourney(journey);
    if (!subscription && !(PAYMENT_JOURNEYS as readonly string[]).includes(journey)) {
      throw new SimulatorError(400, `Unknown journey '${String(journey)}'; valid journeys: ${[...PAYMENT_JOURNEYS, ...SUBSCRIPTION_JOURNEYS].join(', ')}`);
    }
    const session = this.state.checkoutSessions.get(sessionId);
    const extras = this.sessionExtras.get(sessionId);
    if (!session || !extras) throw new SimulatorError(404, `No such checkout.session: '${sessionId}'`);
    const wanted = subscription ? 'subscription' : 'payment';
    if (session.mode !== wanted) throw new SimulatorError(409, `${journey} simulates ${wanted}-mode Checkout; ${sessionId} is in ${String(session.mode)} mode.`);
    if (session.status !== 'open') throw new SimulatorError(409, `Checkout Session ${sessionId} is ${String(session.status)}; a journey needs an open session.`);
    const metadata = session.metadata as Record<string, string>;
    const customerId = (session.customer as string | null) ?? null;
    const customer = customerId ? this.state.customers.get(customerId) : undefined;
    const input = {
      orderId: metadata.orderId ?? (session.client_reference_id as string | null) ?? sessionId,
      checkoutSessionId: sessionId,
      amount: session.amount_total as number,
      currency: session.currency as string,
      customerId,
      startAt,
      idSuffix: this.idSuffix,
    };
    const price = (extras.lineItems[0]?.price ?? {}) as Record<string, unknown>;
    const raw = subscription
      ? subscriptionJourneyEvents(journey, {
          ...input,
          subscriptionMetadata: extras.subscriptionMetadata,
          priceId: String(price.id ?? 'price_unknown'),
          productId: String(price.product ?? 'prod_unknown'),
          productName: String(extras.lineItems[0]?.description ?? price.product ?? 'plan'),
        })
      : journeyEvents(journey as PaymentJourney, input);
    const s = this.state;
    const events: StripeEvent[] = [];
    for (const ev of raw) {
      const obj = ev.data.object as StripeObject;
      let object: StripeObject;
      switch (obj.object) {
        case 'payment_intent':
          // A Checkout payment intent carries `payment_intent_data.metadata`, and nothing else.
          object = { ...obj, metadata: { ...extras.paymentIntentMetadata } };
          s.paymentIntents.set(object.id, object);
          break;
        case 'charge':
          object = { ...obj, disputed: s.charges.get(obj.id)?.disputed ?? obj.disputed };
          s.charges.set(object.id, object);
          break;
        case 'refund':
          object = obj;
          s.refunds.set(object.id, object);
          break;
        case 'dispute': {
          object = obj;
          s.disputes.set(object.id, object);
          const charge = typeof obj.charge === 'string' ? s.charges.get(obj.charge) : undefined;
          if (charge) charge.disputed = true;
          break;
        }
        case 'invoice':
          if (subscription) {
            // Subscriptions always invoice; the subscription's metadata rides on `parent`.
            object = { ...obj, customer: customerId };
            s.invoices.set(object.id, object);
            break;
          }
          // Checkout makes an invoice only when `invoice_creation[enabled]` was set.
          if (!extras.invoiceEnabled) continue;
          object = { ...obj, metadata: { ...extras.invoiceMetadata }, customer: customerId };
          s.invoices.set(object.id, object);
          session.invoice = object.id;
          break;
        case 'subscription':
          object = obj;
          s.subscriptions.set(object.id, object);
          break;
        case 'checkout.session': {
          const details = isRecord(obj.customer_details) ? obj.customer_details : {};
          Object.assign(session, {
            status: obj.status,
            payment_status: obj.payment_status,
            payment_intent: obj.payment_intent,
            ...(subscription ? { subscription: obj.subscription, invoice: obj.invoice } : {}),
            url: obj.status === 'open' ? session.url : null,
            customer_details: obj.status === 'complete'
              ? {
                  address: null,
                  email: (session.customer_email as string | null) ?? (customer?.email as string | null | undefined) ?? details.email ?? null,
                  name: (customer?.name as string | null | undefined) ?? details.name ?? null,
                  phone: null,
                  tax_exempt: 'none',
                  tax_ids: [],
                }
              : session.customer_details,
          });
          object = session;
          break;
        }
        default:
          object = obj;
      }
      events.push({ ...ev, pending_webhooks: this.webhook ? 1 : 0, data: { ...ev.data, object: clone(object) } });
    }
    for (const ev of events) s.events.set(ev.id, ev);
    this.log(`journey ${journey} on ${sessionId}: ${events.length} events, session ${String(session.status)}/${String(session.payment_status)}`);
    return events;
  }

  /** Deliver one at a time in `deliveryOrder`, each until acknowledged (or out of attempts). */
  private async deliver(events: StripeEvent[], opts: JourneyRunOptions): Promise<EventDelivery[]> {
    const webhook = this.webhook;
    if (!webhook || events.length === 0) return [];
    const signal = this.abort.signal;
    const random = seededRandom(opts.seed ?? Math.floor(Math.random() * 2 ** 32));
    const order = deliveryOrder(events, { duplicates: opts.duplicates ?? 0, shuffle: opts.shuffle ?? false, random });
    const results: EventDelivery[] = [];
    for (const [i, ev] of order.entries()) {
      if (signal.aborted) break;
      if (i > 0 && opts.delayMs) await sleep(opts.delayMs, signal);
      const r = await deliverUntilAcknowledged(webhook.url, [ev], webhook.secret, {
        concurrency: 1,
        signal,
        ...(this.opts.maxDeliveryAttempts !== undefined ? { maxAttempts: this.opts.maxDeliveryAttempts } : {}),
        ...(this.opts.retryDelayMs !== undefined ? { retryDelayMs: this.opts.retryDelayMs } : {}),
      });
      if (r.attempts === 0) break;
      const ok = r.delivered === 1;
      const codes = Object.entries(r.statuses).map(([code, n]) => [Number(code), n] as const);
      const acked = codes.find(([code]) => code >= 200 && code < 300);
      const failure = codes.filter(([code]) => code < 200 || code >= 300).sort((a, b) => b[1] - a[1])[0];
      const status = ok && acked ? acked[0] : (failure?.[0] ?? 0);
      results.push({ eventId: ev.id, type: ev.type, ok, status, attempts: r.attempts, statuses: r.statuses });
      this.log(`webhook ${ev.type} ${ev.id} → ${status}${r.attempts > 1 ? ` after ${r.attempts} attempts` : ''}${ok ? '' : ' (gave up)'}`);
    }
    return results;
  }

  // -- Control API and hosted checkout page ------------------------------------------------------

  private newestOpenSession(mode: 'payment' | 'subscription' = 'payment'): StripeObject | undefined {
    return [...this.state.checkoutSessions.values()].reverse().find((s) => s.status === 'open' && s.mode === mode);
  }

  private async control(method: string, path: string, raw: string, send: (status: number, body: unknown) => void): Promise<void> {
    if (method === 'GET' && path === '/_sim/journeys') return send(200, { journeys: PAYMENT_JOURNEYS, subscription_journeys: SUBSCRIPTION_JOURNEYS });
    if (method === 'GET' && path === '/_sim/sessions') {
      const sessions = [...this.state.checkoutSessions.values()].reverse().map((s) => ({
        id: s.id,
        status: s.status,
        payment_status: s.payment_status,
        mode: s.mode,
        amount_total: s.amount_total,
        currency: s.currency,
        customer: s.customer,
        order_id: (s.metadata as Record<string, string>).orderId ?? null,
        client_reference_id: s.client_reference_id,
        payment_intent: s.payment_intent,
        created: s.created,
        url: s.url,
      }));
      return send(200, { sessions });
    }
    const m = /^\/_sim\/journeys\/([^/]+)$/.exec(path);
    if (method === 'POST' && m) {
      const journey = decodeURIComponent(m[1]!);
      const subscription = isSubscriptionJourney(journey);
      if (!subscription && !(PAYMENT_JOURNEYS as readonly string[]).includes(journey)) {
        return send(400, { error: { message: `Unknown journey '${journey}'`, valid_journeys: PAYMENT_JOURNEYS, valid_subscription_journeys: SUBSCRIPTION_JOURNEYS } });
      }
      let body: Record<string, unknown> = {};
      if (raw.trim()) {
        try {
          const parsed: unknown = JSON.parse(raw);
          if (!isRecord(parsed)) throw new Error('not an object');
          body = parsed;
        } catch {
          return send(400, { error: { message: 'The body must be a JSON object: {"sessionId"?, "duplicates"?, "shuffle"?, "seed"?, "delayMs"?}' } });
        }
      }
      const mode = subscription ? 'subscription' : 'payment';
      const sessionId = typeof body.sessionId === 'string' && body.sessionId ? body.sessionId : this.newestOpenSession(mode)?.id;
      if (!sessionId) return send(404, { error: { message: `No open ${mode}-mode Checkout Session; create one first (POST /v1/checkout/sessions, e.g. by starting a checkout in Settle).` } });
      const duplicates = body.duplicates === true ? 0.5 : typeof body.duplicates === 'number' ? body.duplicates : 0;
      const run = await this.runJourney(journey as Journey, sessionId, {
        duplicates,
        shuffle: body.shuffle === true,
        ...(typeof body.seed === 'number' ? { seed: body.seed } : {}),
        ...(typeof body.delayMs === 'number' ? { delayMs: body.delayMs } : {}),
      });
      const session = this.state.checkoutSessions.get(sessionId)!;
      return send(200, {
        journey,
        session: { id: sessionId, status: session.status, payment_status: session.payment_status, payment_intent: session.payment_intent },
        order_id: (session.metadata as Record<string, string>).orderId ?? null,
        webhook: this.webhook?.url ?? null,
        events: run.events.map((e) => ({ id: e.id, type: e.type })),
        deliveries: run.deliveries.map((d) => ({ event_id: d.eventId, type: d.type, ok: d.ok, status: d.status, attempts: d.attempts })),
      });
    }
    throw new SimulatorError(404, `Unknown simulator endpoint ${method} ${path}; try GET /_sim/sessions, GET /_sim/journeys or POST /_sim/journeys/:journey`);
  }

  /** A stand-in for Stripe's hosted page: pick how the purchase goes, then back to the site. */
  private checkoutPage(method: string, path: string, raw: string, res: ServerResponse): void {
    const id = decodeURIComponent(path.slice('/c/pay/'.length));
    const session = this.state.checkoutSessions.get(id);
    const html = (status: number, body: string) => {
      res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><html><head><meta charset="utf-8"><title>Stripe simulator checkout</title></head>
<body style="font-family:system-ui;max-width:40rem;margin:3rem auto">${body}</body></html>`);
    };
    if (!session) return html(404, `<h1>No such Checkout Session</h1><p>${escapeHtml(id)}</p>`);
    if (method === 'POST') {
      const journey = String(parseForm(raw).journey ?? '');
      try {
        const events = this.applyJourney(journey as Journey, id);
        // Like Stripe, the customer is redirected at once; the webhooks follow on their own.
        if (this.webhook) this.track(this.deliver(events, {}).catch((err: unknown) => this.log(`webhook delivery failed: ${String(err)}`)));
      } catch (err) {
        return html(err instanceof SimulatorError ? err.status : 500, `<h1>Cannot run ${escapeHtml(journey)}</h1><p>${escapeHtml(String(err instanceof Error ? err.message : err))}</p>`);
      }
      const target = session.status === 'complete' ? session.success_url : session.cancel_url;
      if (typeof target === 'string') {
        res.writeHead(303, { location: target.replaceAll('{CHECKOUT_SESSION_ID}', id) });
        res.end();
        return;
      }
      return html(200, `<h1>${escapeHtml(journey)}</h1><p>Session ${escapeHtml(id)} is now ${escapeHtml(String(session.status))} / ${escapeHtml(String(session.payment_status))}.</p>`);
    }
    const amount = money(session.amount_total as number, session.currency as string);
    const buttons = session.status === 'open'
      ? (session.mode === 'subscription' ? SUBSCRIPTION_JOURNEYS : PAYMENT_JOURNEYS).map((j) => `<button name="journey" value="${j}" style="margin:.25rem">${j}</button>`).join('')
      : `<p>This session is ${escapeHtml(String(session.status))}.</p>`;
    return html(200, `<h1>Pay ${escapeHtml(amount)}</h1><p>Simulated Stripe Checkout for <code>${escapeHtml(id)}</code>. Choose how the purchase goes:</p>
<form method="post">${buttons}</form>`);
  }
}
