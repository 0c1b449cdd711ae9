/**
 * The simulator's shared core: its state, its webhook endpoint, the events it records and their
 * delivery. Every endpoint, the journey runner and the control API work on one `SimulatorCore`.
 */
import { deliveryOrder, seededRandom } from './delivery-order.js';
import { loadState, saveState } from './persistence.js';
import type { RequestContext } from './stripe-api.js';
import { SIMULATOR_API_VERSION, type StripeEvent } from './stripe-events.js';
import { clone, emptyState, noteEvents, randomId, simulatedNow, type KnownPrice, type SessionExtras, type SimulatorState, type StripeObject } from './state.js';
import { thinEventOf } from './thin-events.js';
import { deliverUntilAcknowledged, sleep } from './webhook-delivery.js';

/** What a delivery carries: Stripe's classic snapshot events, thin notifications, or both (a migration). */
export type EventFormat = 'snapshot' | 'thin' | 'both';
export const EVENT_FORMATS: readonly EventFormat[] = ['snapshot', 'thin', 'both'];

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
  /**
   * A folder for the simulator's state (`state.json`), read on start and written after every
   * change, so a restart keeps every object and event. Without it the state lives in memory only.
   */
  stateDir?: string;
  /** What deliveries carry unless a journey run says otherwise (default `snapshot`). */
  eventFormat?: EventFormat;
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
  /** Event types recorded (listed by `GET /v1/events`) but never delivered: a lost webhook. */
  drop?: string[];
  /** Event types delivered but marked so that processing them fails (`failsProcessing`) until fixed. */
  fail?: string[];
  /** Overrides the simulator's `eventFormat` for this run. */
  format?: EventFormat;
  /** Upgrade/downgrade journeys: the price the subscription item moves to (any id; default: the nearest known price). */
  targetPriceId?: string;
  /** Subscription journeys: a price added as an add-on item from the first renewal on (a known price keeps its amount; else 3.00). */
  addOnPriceId?: string;
};

export type EventDelivery = {
  eventId: string;
  type: string;
  ok: boolean;
  /** The acknowledging status, or the most frequent failure (0 = network error). */
  status: number;
  attempts: number;
  statuses: Record<number, number>;
  /** Deliberately not delivered (`drop`): no attempt was made. */
  dropped?: boolean;
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

  private saveScheduled = false;

  constructor(readonly opts: StripeSimulatorOptions) {
    this.webhook = opts.webhookUrl && opts.webhookSecret ? { url: opts.webhookUrl, secret: opts.webhookSecret } : null;
    this.state = emptyState(opts.prices);
    if (opts.stateDir && loadState(opts.stateDir, this)) {
      this.log(`state restored from ${opts.stateDir}: ${this.state.checkoutSessions.size} sessions, ${this.state.events.size} events`);
    }
  }

  /** Save the state soon (once per tick however many changes); no-op without `stateDir`. */
  persist(): void {
    if (!this.opts.stateDir || this.saveScheduled) return;
    this.saveScheduled = true;
    setImmediate(() => this.flush());
  }

  flush(): void {
    this.saveScheduled = false;
    if (this.opts.stateDir) saveState(this.opts.stateDir, this);
  }

  /** Whether the receiver should fail processing this event (a snapshot event id or a thin notification's id). */
  failsProcessing(eventId: string): boolean {
    const snapshotId = this.state.thinEvents.get(eventId)?.snapshot_event ?? eventId;
    return this.state.failing.has(snapshotId);
  }

  /** Clear the failure mark of one event, or of all; answers the event ids that were marked. */
  fix(eventId?: string): string[] {
    const snapshotId = eventId ? (this.state.thinEvents.get(eventId)?.snapshot_event ?? eventId) : undefined;
    const fixed = snapshotId ? (this.state.failing.has(snapshotId) ? [snapshotId] : []) : [...this.state.failing];
    for (const id of fixed) this.state.failing.delete(id);
    if (fixed.length) this.persist();
    return fixed;
  }

  /** Where the customer pays an invoice: the simulator's stand-in for Stripe's hosted invoice page. */
  hostedInvoiceUrl(invoiceId: string): string {
    return `${this.url}/i/${encodeURIComponent(invoiceId)}`;
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
      created: simulatedNow(this.state),
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
    noteEvents(this.state, events);
    this.persist();
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

  /**
   * Deliver one at a time in `deliveryOrder`, each until acknowledged (or out of attempts); events
   * of a `drop` type are skipped and stay undelivered. Each event's outcome is recorded for
   * `GET /v1/events?delivery_success=`.
   */
  async deliver(events: StripeEvent[], opts: JourneyRunOptions): Promise<EventDelivery[]> {
    const webhook = this.webhook;
    if (!webhook || events.length === 0) return [];
    const signal = this.abort.signal;
    const random = seededRandom(opts.seed ?? Math.floor(Math.random() * 2 ** 32));
    const order = deliveryOrder(events, { duplicates: opts.duplicates ?? 0, shuffle: opts.shuffle ?? false, random });
    const drop = new Set(opts.drop ?? []);
    const format = opts.format ?? this.opts.eventFormat ?? 'snapshot';
    const results: EventDelivery[] = [];
    for (const [i, ev] of order.entries()) {
      if (signal.aborted) break;
      if (drop.has(ev.type)) {
        if (results.some((r) => r.eventId === ev.id)) continue;
        this.state.deliveries.set(ev.id, 'dropped');
        results.push({ eventId: ev.id, type: ev.type, ok: false, status: 0, attempts: 0, statuses: {}, dropped: true });
        this.log(`webhook ${ev.type} ${ev.id} dropped (recorded, never delivered)`);
        continue;
      }
      if (i > 0 && opts.delayMs) await sleep(opts.delayMs, signal);
      const payloads: unknown[] = format === 'snapshot' ? [ev] : format === 'thin' ? [thinEventOf(this.state, ev)] : [ev, thinEventOf(this.state, ev)];
      const r = await deliverUntilAcknowledged(webhook.url, payloads, webhook.secret, {
        concurrency: 1,
        signal,
        ...(this.opts.maxDeliveryAttempts !== undefined ? { maxAttempts: this.opts.maxDeliveryAttempts } : {}),
        ...(this.opts.retryDelayMs !== undefined ? { retryDelayMs: this.opts.retryDelayMs } : {}),
      });
      if (r.attempts === 0) break;
      const ok = r.delivered === payloads.length;
      const codes = Object.entries(r.statuses).map(([code, n]) => [Number(code), n] as const);
      const acked = codes.find(([code]) => code >= 200 && code < 300);
      const failure = codes.filter(([code]) => code < 200 || code >= 300).sort((a, b) => b[1] - a[1])[0];
      const status = ok && acked ? acked[0] : (failure?.[0] ?? 0);
      results.push({ eventId: ev.id, type: ev.type, ok, status, attempts: r.attempts, statuses: r.statuses });
      // A later success (a duplicate delivery) wins over an earlier failure, as at Stripe.
      if (ok || this.state.deliveries.get(ev.id) !== 'delivered') this.state.deliveries.set(ev.id, ok ? 'delivered' : 'failed');
      if (ok) ev.pending_webhooks = 0;
      this.persist();
      this.log(`webhook ${format === 'snapshot' ? '' : `(${format}) `}${ev.type} ${ev.id} → ${status}${r.attempts > payloads.length ? ` after ${r.attempts} attempts` : ''}${ok ? '' : ' (gave up)'}`);
    }
    return results;
  }
}
