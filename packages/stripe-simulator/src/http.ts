/**
 * One HTTP request to the simulator: the control API and the hosted checkout page, or a Stripe
 * API call (authenticated, form-decoded, answered once per idempotency key, errors in Stripe's shape).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { checkoutPage, invoicePage, portalPage } from './hosted-pages.js';
import { control } from './control.js';
import { SimulatorError, type SimulatorCore } from './core.js';
import { JOURNEYS_BY_SESSION_MODE } from './journeys.js';
import { invalid, parseForm, stableStringify, StripeApiError, type Params, type Route } from './stripe-api.js';
import { SIMULATOR_API_VERSION } from './stripe-events.js';
import { randomId } from './state.js';

export async function handleRequest(sim: SimulatorCore, routes: Route[], req: IncomingMessage, res: ServerResponse): Promise<void> {
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
    sim.log(`${method} ${url.pathname} → ${status}${extra['idempotent-replayed'] ? ' (idempotent replay)' : ''} (${Date.now() - started} ms)`);
  };
  try {
    const raw = await readBody(req, 1_000_000);
    if (path === '/' && method === 'GET') {
      return send(200, { simulator: 'settle-stripe-simulator', api_version: SIMULATOR_API_VERSION, journeys: JOURNEYS_BY_SESSION_MODE });
    }
    if (path.startsWith('/_sim/')) return await control(sim, method, path, raw, send);
    if (path.startsWith('/c/pay/')) return checkoutPage(sim, method, path, raw, res);
    if (path.startsWith('/p/session/') && method === 'GET') return portalPage(sim, path, res);
    if (path.startsWith('/i/') && (method === 'GET' || method === 'POST')) return invoicePage(sim, method, path, res);

    headers['stripe-version'] = typeof req.headers['stripe-version'] === 'string' ? req.headers['stripe-version'] : SIMULATOR_API_VERSION;
    authenticate(req.headers.authorization);
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
    for (const r of routes) {
      const m = r.method === method ? r.pattern.exec(path) : null;
      if (m) {
        route = r;
        id = decodeURIComponent(m[1] ?? '');
        break;
      }
    }
    if (!route) {
      throw invalid(
        `Unrecognized request URL (${method}: ${path}). The Settle Stripe simulator implements customers, checkout sessions, payment intents, charges, refunds, invoices, disputes and events; see packages/stripe-simulator/src/api-routes.ts.`,
        { status: 404 },
      );
    }

    const fingerprint = stableStringify(params);
    if (idempotencyKey) {
      if (idempotencyKey.length > 255) throw invalid('Idempotency keys can be at most 255 characters long.', { param: 'Idempotency-Key' });
      const stored = sim.idempotent.get(idempotencyKey);
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
      sim.idempotent.set(idempotencyKey, { method, path, fingerprint, status: reply.status, body, requestId });
    }
    if (method === 'POST') sim.persist();
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

function authenticate(header: string | undefined): void {
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
