/**
 * The simulator's shared core: its state, its webhook endpoint, the events it records and their
 * delivery. Every endpoint, the journey runner and the control API work on one `SimulatorCore`.
 */
import { deliveryOrder, seededRandom } from './delivery-order.js';
import type { RequestContext } from './stripe-api.js';
import { SIMULATOR_API_VERSION, type StripeEvent } from './stripe-events.js';
import { clone, emptyState, nowSeconds, randomId, type KnownPrice, type SessionExtras, type SimulatorState, type StripeObject } from './state.js';
import { deliverUntilAcknowledged, sleep } from './webhook-delivery.js';

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

type IdempotentResult = { method: string; path: string; fingerprint: string; status: number; body: string; requestId: string };

export class SimulatorCore {
  url = '';
  webhook: { url: string; secret: string } | null;
  readonly state: SimulatorState;
  readonly abort = new AbortController();
  readonly inFlight = new Set<Promise<unknown>>();
  readonly sessionExtras = new Map<string, SessionExtras>();
  readonly idempotent = new Map<string, IdempotentResult>();
  /** Makes journey ids unique across simulator restarts (Settle's database outlives us). */
  readonly idSuffix = randomId(4);

  constructor(readonly opts: StripeSimulatorOptions) {
    this.webhook = opts.webhookUrl && opts.webhookSecret ? { url: opts.webhookUrl, secret: opts.webhookSecret } : null;
    this.state = emptyState(opts.prices);
  }

  log(msg: string): void {
    this.opts.log?.(msg);
  }

  /** An event caused by an API request (it names the request, as Stripe's do). */
  apiEvent(type: string, object: StripeObject, ctx: RequestContext, previous?: Record<string, unknown>): StripeEvent {
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

  /** Record events and deliver them in the background. */
  emit(events: StripeEvent[]): void {
    for (const ev of events) this.state.events.set(ev.id, ev);
    this.deliverInBackground(events);
  }

  /** Deliver recorded events without waiting, as Stripe does after answering a request. */
  deliverInBackground(events: StripeEvent[]): void {
    if (!this.webhook) return;
    this.track(this.deliver(events, {}).catch((err: unknown) => this.log(`webhook delivery failed: ${String(err)}`)));
  }

  /** Keep a background task so `close()` can wait for it. */
  track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p)).catch(() => undefined);
    return p;
  }

  /** Deliver one at a time in `deliveryOrder`, each until acknowledged (or out of attempts). */
  async deliver(events: StripeEvent[], opts: JourneyRunOptions): Promise<EventDelivery[]> {
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
}
