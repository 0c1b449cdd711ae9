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
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { apiRoutes } from './api-routes.js';
import { SimulatorCore, type JourneyRun, type JourneyRunOptions, type StripeSimulatorOptions } from './core.js';
import { handleRequest } from './http.js';
import { runJourney } from './journey-runner.js';
import type { Journey, StripeEvent } from './journeys.js';
import type { SimulatorState } from './state.js';

export { SimulatorError, type EventDelivery, type JourneyRun, type JourneyRunOptions, type StripeSimulatorOptions } from './core.js';
export type { KnownPrice, SimulatorState, StripeObject } from './state.js';

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

export async function startStripeSimulator(opts: StripeSimulatorOptions = {}): Promise<StripeSimulator> {
  if (opts.webhookUrl && !opts.webhookSecret) throw new Error('startStripeSimulator: webhookSecret is required with webhookUrl');
  const sim = new SimulatorCore(opts);
  const routes = apiRoutes(sim);
  const server = createServer((req, res) => {
    handleRequest(sim, routes, req, res).catch((err: unknown) => {
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
    runJourney: (journey, sessionId, runOpts) => runJourney(sim, journey, sessionId, runOpts),
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
