/**
 * An offline Stripe API for development and tests: a plain node:http server that answers the
 * Stripe REST calls Settle makes through the official SDK (customers, Checkout Sessions, payment
 * intents, charges, refunds, invoices, invoice payments, subscriptions, events), keeps its objects
 * in memory (and, with `stateDir`, in a JSON file that outlives restarts), and moves a Checkout
 * Session through one of the scripted journeys of journeys.ts, delivering the resulting events to
 * a webhook endpoint signed exactly as Stripe signs them, as snapshot events or thin notifications.
 *
 * Point the SDK at it with `new Stripe(key, { host, port, protocol: 'http' })` (Settle:
 * `STRIPE_API_BASE=http://127.0.0.1:12111`). Requests are form-encoded with bracket notation and
 * must carry `Authorization: Bearer sk_...`; errors have Stripe's shape and status codes, so the
 * SDK raises its usual error classes. `POST` honours `Idempotency-Key` like Stripe: a repeat with
 * the same parameters replays the stored response, other parameters get a 400 `idempotency_error`.
 *
 * Beside the API (all unauthenticated, for local use):
 *  - `GET /c/pay/:sessionId`: the session's "hosted checkout" page, one button per journey;
 *  - `POST /_sim/journeys/:journey` `{sessionId?, duplicates?, shuffle?, seed?, delayMs?, drop?, fail?, format?}`:
 *    run a journey on a session (default: the newest open one) and answer with its deliveries;
 *    `drop` lists event types recorded but never delivered, `fail` event types whose processing
 *    should fail (see `failsProcessing`);
 *  - `GET /_sim/failing`, `POST /_sim/fix {eventId?}`: the events marked to fail, and clearing marks;
 *  - `POST /_sim/refunds/:id/fail {failureReason?}`: a refund fails after the fact;
 *  - `GET /p/session/:id`: the customer portal page a `POST /v1/billing_portal/sessions` points to;
 *  - `GET /i/:invoiceId`, `POST /i/:invoiceId`: an invoice's hosted page (`hosted_invoice_url`), and paying it;
 *  - `GET /_sim/sessions`, `GET /_sim/journeys`.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { apiRoutes } from './api-routes.js';
import { SimulatorCore, type JourneyRun, type JourneyRunOptions, type StripeSimulatorOptions } from './core.js';
import { handleRequest } from './http.js';
import { runJourney } from './journey-runner.js';
import { failRefund } from './refunds.js';
import { eventGenerationFailureResolved, type V2EventNotification } from './thin-events.js';
import type { Journey, StripeEvent } from './journeys.js';
import type { SessionExtras, SimulatorState } from './state.js';

export { EVENT_FORMATS, SimulatorError, type EventDelivery, type EventFormat, type JourneyRun, type JourneyRunOptions, type StripeSimulatorOptions } from './core.js';
export type { DeliveryState, KnownPrice, SessionExtras, SimulatorState, StripeObject, ThinEvent, V2Event } from './state.js';
export type { V2EventNotification } from './thin-events.js';

export type StripeSimulator = {
  /** e.g. http://127.0.0.1:12111; use as Settle's STRIPE_API_BASE. */
  url: string;
  port: number;
  /** The live in-memory objects (mutating them changes what the API answers). */
  state: SimulatorState;
  /** Set or remove the webhook endpoint after start (e.g. once the receiver's port is known). */
  configureWebhook(webhook: { url: string; secret: string } | null): void;
  /**
   * Payment and incident journeys need a payment-mode session, subscription journeys a
   * subscription-mode one; foreign journeys take none (`null`).
   */
  runJourney(journey: Journey, sessionId: string | null, opts?: JourneyRunOptions): Promise<JourneyRun>;
  /** Every event so far, oldest first. */
  events(): StripeEvent[];
  /** What a Checkout Session was created with that its object does not show (e.g. `subscription_data.trial_period_days`). */
  sessionParams(sessionId: string): SessionExtras | undefined;
  /**
   * Whether processing this event should fail: true for events of a journey run with `fail`
   * (snapshot or thin id) until `fix`. Meant for the receiver's processing hook (Settle's
   * `beforeApply` in `pnpm dev`), so an operator can practise Replay.
   */
  failsProcessing(eventId: string): boolean;
  /** Clear the failure mark of one event, or of every event; answers the ids that were marked. */
  fix(eventId?: string): string[];
  /** A refund fails after the fact (refund.failed, refund.updated, charge.refund.updated, delivered in the background). */
  failRefund(refundId: string, failureReason?: string): StripeEvent[];
  /**
   * Stripe could not generate `eventType` events for an object, and says so once resolved: a
   * `v2.core.health.event_generation_failure.resolved` event (served by `GET /v2/core/events/:id`);
   * answers its thin notification, for the caller to deliver.
   */
  eventGenerationFailureResolved(related: { id: string; type: string }, eventType: string): V2EventNotification;
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
  sim.log(`Stripe simulator listening on ${sim.url}${opts.stateDir ? `, state in ${opts.stateDir}` : ' (state in memory only)'}${sim.webhook ? `, delivering webhooks to ${sim.webhook.url}` : ''}`);
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
    sessionParams: (sessionId) => structuredClone(sim.sessionExtras.get(sessionId)),
    failsProcessing: (eventId) => sim.failsProcessing(eventId),
    fix: (eventId) => sim.fix(eventId),
    failRefund: (refundId, failureReason) => failRefund(sim, refundId, failureReason),
    eventGenerationFailureResolved: (related, eventType) => eventGenerationFailureResolved(sim.state, related, { eventType }),
    close() {
      closing ??= (async () => {
        sim.abort.abort();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await closed;
        await Promise.allSettled([...sim.inFlight]);
        sim.flush();
      })();
      return closing;
    },
  };
}
