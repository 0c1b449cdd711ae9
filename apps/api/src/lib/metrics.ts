import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Settle's Prometheus metrics; one registry per API instance (tests build several in one process). */
export type MetricsSources = {
  /** Read at scrape time for the inbox gauges. */
  inboxHealth?: () => Promise<{ due: number; oldestDueAgeSeconds: number }>;
  /** Read at scrape time: paid one-time orders still without their invoice. */
  ordersMissingInvoice?: () => Promise<number>;
  /** Read at scrape time: events of the last 24 h per API version other than the pinned one. */
  eventsInOtherApiVersions?: () => Promise<{ apiVersion: string; count: number }[]>;
  /** Read at scrape time: subscriptions whose price is not in the catalogue, waiting for review. */
  subscriptionsNeedingReview?: () => Promise<number>;
  /** Read at scrape time for the host webhook gauges. */
  hostOutboxHealth?: () => Promise<{ pending: number; dead: number; oldestPendingAgeSeconds: number }>;
};

/** How long a scrape waits for one database-backed gauge (a scrape must answer while the database does not). */
export const SCRAPE_SOURCE_DEADLINE_MS = 2_000;

export function createMetrics(sources: MetricsSources = {}, opts: { sourceDeadlineMs?: number } = {}) {
  const deadlineMs = opts.sourceDeadlineMs ?? SCRAPE_SOURCE_DEADLINE_MS;
  const registry = new Registry();
  /** This scrape's source reads, each bounded by the deadline: the failure count waits for them. */
  const inFlight = new Set<Promise<unknown>>();
  const sourceFailures = new Counter({
    name: 'settle_metrics_source_failures_total',
    help: 'Scrape-time database reads for gauges that failed or missed their deadline (those gauges keep their last value)',
    labelNames: ['source'] as const,
    registers: [registry],
    async collect() {
      // Every metric is collected at once: let the gauges start their reads, then count this scrape's failures too.
      await new Promise((r) => setImmediate(r));
      await Promise.allSettled([...inFlight]);
    },
  });
  /**
   * A scrape-time read: shared by the scrapes that overlap it (a read still running after its
   * deadline serves the next scrape rather than piling up behind a silent database), and answered
   * with null past the deadline or on failure, counted as a failure.
   */
  const sourceRead = <T>(source: string, read: (() => Promise<T>) | undefined) => {
    /** The read under way (a scrape that finds one running waits for it instead of starting another). */
    let running: Promise<T | null> | null = null;
    /** This scrape's wait for it, bounded by the deadline (the gauges sharing a read share it too). */
    let waiting: Promise<T | null> | null = null;
    return (): Promise<T | null> => {
      if (!read) return Promise.resolve(null);
      if (waiting) return waiting;
      running ??= read()
        .catch(() => {
          sourceFailures.inc({ source });
          return null;
        })
        .finally(() => {
          setTimeout(() => (running = null), 0);
        });
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), deadlineMs)));
      const bounded = Promise.race([running, late]).then((result) => {
        clearTimeout(timer);
        if (result !== 'late') return result;
        sourceFailures.inc({ source });
        return null;
      });
      waiting = bounded;
      inFlight.add(bounded);
      void bounded.finally(() => {
        inFlight.delete(bounded);
        setTimeout(() => (waiting = null), 0);
      });
      return bounded;
    };
  };
  // One database read per scrape serves both inbox gauges, and one the three outbox gauges.
  const readHealth = sourceRead('inbox_health', sources.inboxHealth);
  const readOutbox = sourceRead('host_outbox_health', sources.hostOutboxHealth);
  const readOrdersMissingInvoice = sourceRead('orders_missing_invoice', sources.ordersMissingInvoice);
  const readOtherApiVersions = sourceRead('events_other_api_version', sources.eventsInOtherApiVersions);
  const readSubscriptionsNeedingReview = sourceRead('subscriptions_needing_review', sources.subscriptionsNeedingReview);
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    metricsSourceFailures: sourceFailures,
    webhookRequests: new Counter({
      name: 'settle_webhook_requests_total',
      help: 'Stripe webhook requests by outcome',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    eventLatency: new Histogram({
      name: 'settle_event_processing_latency_seconds',
      help: 'Time from receipt of a Stripe event to its processing',
      labelNames: ['type', 'handler', 'outcome'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600],
      registers: [registry],
    }),
    eventAttempts: new Counter({
      name: 'settle_event_attempts_total',
      help: 'Processing attempts by result (processed, retry, dead, unmatched, busy)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    transitions: new Counter({
      name: 'settle_order_transitions_total',
      help: 'Order status transitions, by the handler the order is under (compare legacy and new during a rollout)',
      labelNames: ['from', 'to', 'cause', 'handler'] as const,
      registers: [registry],
    }),
    grants: new Counter({
      name: 'settle_grants_total',
      help: 'Grants and revocations carried out, by the handler the order is under',
      labelNames: ['action', 'handler'] as const,
      registers: [registry],
    }),
    reconciliationDrift: new Counter({
      name: 'settle_reconciliation_drift_total',
      help: 'Orders the reconciler found out of step with Stripe and corrected (state-consistency drift)',
      registers: [registry],
    }),
    reconciliationLastDisagreements: new Gauge({
      name: 'settle_reconciliation_last_run_disagreements',
      help: 'Disagreements found by the last reconciliation run of this instance',
      registers: [registry],
    }),
    flagSourceUp: new Gauge({
      name: 'settle_flag_source_up',
      help: '1 while the last poll of the flag source (Settle or Unleash) succeeded, 0 while it fails',
      labelNames: ['source'] as const,
      registers: [registry],
    }),
    flagFetchErrors: new Counter({
      name: 'settle_flag_fetch_errors_total',
      help: 'Failed polls of the flag source; evaluation continues on the last known state or the default',
      labelNames: ['source'] as const,
      registers: [registry],
    }),
    handlerChoices: new Counter({
      name: 'settle_handler_choices_total',
      help: 'Handlers chosen for new orders; basis "default" means the flag could not be evaluated (HANDLER_MODE)',
      labelNames: ['handler', 'shadow', 'basis'] as const,
      registers: [registry],
    }),
    shadowDisagreements: new Counter({
      name: 'settle_shadow_disagreements_total',
      help: 'Points where the shadowed new handler would have decided differently from legacy',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    ordersMissingInvoice: new Gauge({
      name: 'settle_orders_missing_invoice',
      help: 'Paid one-time orders whose invoice has not arrived after INVOICE_MISSING_AFTER_MIN',
      registers: [registry],
      async collect() {
        const n = await readOrdersMissingInvoice();
        if (typeof n === 'number') this.set(n);
      },
    }),
    eventsRecovered: new Counter({
      name: 'settle_events_recovered_total',
      help: "Events Settle had not received, stored from Stripe's Events API by recovery",
      labelNames: ['trigger'] as const,
      registers: [registry],
    }),
    duplicatePayments: new Counter({
      name: 'settle_duplicate_payments_total',
      help: 'Second successful payments for an order already paid (the customer was charged twice)',
      registers: [registry],
    }),
    eventsInOtherApiVersions: new Gauge({
      name: 'settle_events_other_api_version',
      help: 'Events received in the last 24 h rendered in an API version other than STRIPE_API_VERSION',
      labelNames: ['api_version'] as const,
      registers: [registry],
      async collect() {
        const rows = await readOtherApiVersions();
        if (!rows) return;
        this.reset();
        for (const r of rows) this.set({ api_version: r.apiVersion }, r.count);
      },
    }),
    subscriptionsNeedingReview: new Gauge({
      name: 'settle_subscriptions_needing_review',
      help: 'Subscriptions whose item moved to a price not in the catalogue (last known plan kept until reviewed)',
      registers: [registry],
      async collect() {
        const n = await readSubscriptionsNeedingReview();
        if (typeof n === 'number') this.set(n);
      },
    }),
    inboxDepth: new Gauge({
      name: 'settle_inbox_due_events',
      help: 'Inbox events waiting to be processed (pending or failed and due)',
      registers: [registry],
      async collect() {
        const h = await readHealth();
        if (h) this.set(h.due);
      },
    }),
    inboxOldestAge: new Gauge({
      name: 'settle_inbox_oldest_due_age_seconds',
      help: 'Age of the oldest event waiting to be processed',
      registers: [registry],
      async collect() {
        const h = await readHealth();
        if (h) this.set(h.oldestDueAgeSeconds);
      },
    }),
    hostWebhookDeliveries: new Counter({
      name: 'settle_host_webhook_deliveries_total',
      help: 'Attempts to deliver a webhook to the host app, by outcome (delivered, retry, dead) and type',
      labelNames: ['outcome', 'type'] as const,
      registers: [registry],
    }),
    hostWebhookLatency: new Histogram({
      name: 'settle_host_webhook_delivery_latency_seconds',
      help: 'Time from a change to its webhook being accepted by the host',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 7200, 36000],
      registers: [registry],
    }),
    hostWebhookPending: new Gauge({
      name: 'settle_host_webhook_pending',
      help: 'Webhooks to the host not delivered yet (waiting, in flight or between retries)',
      registers: [registry],
      async collect() {
        const h = await readOutbox();
        if (h) this.set(h.pending);
      },
    }),
    hostWebhookDead: new Gauge({
      name: 'settle_host_webhook_dead',
      help: 'Webhooks to the host that used every attempt (replay them from the console)',
      registers: [registry],
      async collect() {
        const h = await readOutbox();
        if (h) this.set(h.dead);
      },
    }),
    hostWebhookLag: new Gauge({
      name: 'settle_host_webhook_lag_seconds',
      help: 'Age of the oldest change the host has not received yet (0 when it is up to date)',
      registers: [registry],
      async collect() {
        const h = await readOutbox();
        if (h) this.set(h.oldestPendingAgeSeconds);
      },
    }),
    creditsConsumed: new Counter({
      name: 'settle_credits_consumed_total',
      help: 'Credits spent through entitlements.consume (repeats of a key not counted)',
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
