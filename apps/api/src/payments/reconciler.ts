import {
  claimOrdersToReconcile,
  claimStaleSubscriptions,
  findOrder,
  findSubscription,
  findSubscriptionForOrder,
  finishReconciliationRun,
  findUnmatchedEvents,
  knownOrderRefs,
  listRecentUnmatchedEventIds,
  markOrderReconciled,
  reconciliationDrift,
  requeueEvents,
  startReconciliationRun,
  type Db,
  type OrderRow,
  type ReconcileAges,
} from '@settle/db';
import {
  OPEN_SUBSCRIPTION_STATUSES,
  commandsFromInvoiceMoney,
  commandsFromStripeSnapshot,
  commandsFromSubscriptionSnapshot,
  idOf,
  invoiceFactsOf,
  isPaid,
  mapStripeEvent,
  subscriptionRefOf,
  type InvoiceMoneyReading,
  type OrderRef,
  type OrderStatus,
  type StripeEventLike,
  type SubscriptionRef,
  type TimedCommand,
} from '@settle/payments-core';
import type { Logger } from 'pino';
import type Stripe from 'stripe';
import { errorMessage, PermanentError } from '../lib/errors.js';
import type { Metrics } from '../lib/metrics.js';
import { settledWithin } from '../lib/within.js';
import { applyOrderCommand, lockTarget, reportOrderChange, type OrderChange } from './order-command.js';
import { unmatchedTarget } from './event-processor.js';
import type { ProductCatalogue } from './product-catalogue.js';
import { isThinNotification } from './stripe-event-resolver.js';

/** Unmatched events read per page by the requeue: bounds the payloads held and each statement's size. */
const REQUEUE_PAGE = 500;

/**
 * The newest paid invoices of a subscription whose money each reconciliation reads (one page
 * of Stripe's list). Any payment of a plan taken back takes the plan, so older renewals matter
 * too; but most chargebacks come within the card networks' 120 days and refunds soon after the
 * charge, which twelve cover for a monthly plan (a year) and more for longer periods. Older
 * money is left to its webhooks. Each invoice costs up to four reads (its invoice payments,
 * PaymentIntent, refunds, disputes).
 */
const RECENT_PAID_INVOICES = 12;

/** Every id an unmatched event's order may be found by (see `knownOrderRefs`). */
function namedIds({ ref, subscription }: { ref: OrderRef; subscription: SubscriptionRef }): string[] {
  return [ref.orderId, ref.checkoutSessionId, ref.paymentIntentId, subscription.subscriptionId, subscription.invoiceId, subscription.paymentIntentId]
    .filter((v): v is string => v !== null);
}

export type ReconcileResult = { order: OrderRow; changed: boolean; commands: string[] };

export type DriftStats = {
  lastRunAt: string | null;
  lastRunChecked: number;
  lastRunDisagreements: number;
  /** Orders Settle had wrong, by Stripe's word, over the last 24 hours (every instance). */
  disagreements24h: number;
  checked24h: number;
};

export type Reconciler = {
  reconcileOrder(orderId: string, actor: string): Promise<ReconcileResult | null>;
  /** A plan's subscription, its latest invoice and its recent paid invoices' money as Stripe has them, applied to the order that started it. */
  reconcileSubscription(subscriptionId: string, actor: string): Promise<ReconcileResult | null>;
  runOnce(trigger: string): Promise<{ checked: number; disagreements: number; errors: number; requeuedEvents: number }>;
  drift(): Promise<DriftStats>;
  start(intervalMs: number): void;
  /**
   * No new run; the run under way stops before its next order or subscription (one already asked
   * of Stripe is not waited for past `deadlineMs`: each order's change is its own transaction, and
   * what is left is claimed again by the next run). False when the run was still going at the deadline.
   */
  stop(deadlineMs?: number): Promise<boolean>;
};

export type ReconcilerDeps = {
  db: Db;
  stripe: Stripe | null;
  catalogue: ProductCatalogue;
  logger: Logger;
  metrics: Metrics;
  ages: ReconcileAges;
  batch: number;
  /** A subscription whose period ended (or scheduled `cancel_at` passed, if earlier) this long ago with no news from Stripe is asked about. */
  subscriptionStaleAfterMinutes: number;
  onOrderChanged: (orderId: string) => void;
};

/**
 * The janitor (Kill Bill's idea): ask Stripe about orders that look stuck and apply what it says
 * through the same order use case as webhooks (`applyOrderCommand`), with cause `reconciler`. Every order it had to
 * change is a disagreement between Settle and Stripe: the consistency-drift metric.
 */
export function createReconciler(deps: ReconcilerDeps): Reconciler {
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<unknown> | null = null;
  /** Shutdown began: a run stops before its next unit of work. */
  let stopping = false;

  async function snapshot(order: OrderRow) {
    const stripe = deps.stripe!;
    const session = order.checkout_session_id ? await stripe.checkout.sessions.retrieve(order.checkout_session_id) : null;
    const piId = order.payment_intent_id ?? idOf(session?.payment_intent);
    const payment = piId ? await readPayment(stripe, piId) : { paymentIntent: null, charge: null, disputes: [], refunds: [] };
    return { checkoutSession: session, ...payment };
  }

  /** One payment as Stripe has it: its PaymentIntent with its latest charge and, once paid, its disputes and refunds. */
  async function readPayment(stripe: Stripe, paymentIntentId: string) {
    const paymentIntent = await stripe.paymentIntents.retrieve(paymentIntentId, { expand: ['latest_charge'] });
    // A chargeback is a fact of its own at Stripe: the PaymentIntent and its charge still say succeeded.
    const paid = paymentIntent.status === 'succeeded';
    const disputes = paid ? (await stripe.disputes.list({ payment_intent: paymentIntent.id, limit: 100 })).data : [];
    // Refunds too: one that failed since Settle counted it (its events lost) is undone.
    const refunds = paid ? (await stripe.refunds.list({ payment_intent: paymentIntent.id, limit: 100 })).data : [];
    return { paymentIntent, charge: null, disputes, refunds };
  }

  /**
   * The money behind a subscription's newest paid invoices (`RECENT_PAID_INVOICES`), each read
   * as an order's payment is: a renewal refunded or charged back while its events were lost is
   * only found this way. An invoice nothing was charged for (a trial, a coupon) has no money to read.
   */
  async function readInvoiceMoney(stripe: Stripe, subscriptionId: string): Promise<InvoiceMoneyReading[]> {
    const invoices = (await stripe.invoices.list({ subscription: subscriptionId, status: 'paid', limit: RECENT_PAID_INVOICES })).data;
    const readings: InvoiceMoneyReading[] = [];
    for (const invoice of invoices) {
      if (!invoice.id || invoice.amount_paid <= 0) continue;
      // Since API 2025-03-31 an invoice names its PaymentIntent only through its invoice payments; older ones name it themselves.
      const invoicePayments = (await stripe.invoicePayments.list({ invoice: invoice.id, status: 'paid', limit: 10 })).data;
      const linked = invoicePayments.map((ip) => (ip.payment.type === 'payment_intent' ? idOf(ip.payment.payment_intent) : null)).find((id) => id !== null);
      const paymentIntentId = linked ?? invoiceFactsOf(invoice)?.paymentIntentId ?? null;
      const payment = paymentIntentId ? { checkoutSession: null, ...(await readPayment(stripe, paymentIntentId)) } : null;
      readings.push({ invoice, invoicePayments, payment });
    }
    return readings;
  }

  /**
   * The order as Stripe has it: its Checkout Session, PaymentIntent, charge and disputes; for a
   * plan, its subscription, latest invoice and recent paid invoices' money too (a plan's life
   * after its first payment is its subscription's). What an admin's "reconcile" and the
   * generation-failure path ask for.
   */
  async function reconcileOrder(orderId: string, actor: string): Promise<ReconcileResult | null> {
    if (!deps.stripe) throw new PermanentError('Stripe is not configured; cannot reconcile');
    const current = await findOrder(deps.db, orderId);
    if (!current) return null;
    const read = await snapshot(current);
    const payment = await applyStripeReading(current, commandsFromStripeSnapshot(read, Math.floor(Date.now() / 1000)), actor);
    const subscription = current.mode === 'subscription' ? await findSubscriptionForOrder(deps.db, orderId) : undefined;
    // A plan whose subscription Settle never heard of (its webhooks lost): the session names it.
    const subscriptionId = subscription?.id ?? (current.mode === 'subscription' ? idOf(read.checkoutSession?.subscription) : null);
    const plan = subscriptionId ? await reconcileSubscription(subscriptionId, actor, payment.order) : null;
    if (!plan) return payment;
    return { order: plan.order, changed: payment.changed || plan.changed, commands: [...payment.commands, ...plan.commands] };
  }

  /**
   * A subscription that looks stale (its period ended without a paid renewal, a status change
   * or an end heard of): read it, its latest invoice and the money of its recent paid invoices
   * (refunds and chargebacks of renewals) from Stripe and apply what they say through the same
   * use case, to the order that started it.
   */
  async function reconcileSubscription(subscriptionId: string, actor: string, startedBy?: OrderRow): Promise<ReconcileResult | null> {
    const stripe = deps.stripe;
    if (!stripe) throw new PermanentError('Stripe is not configured; cannot reconcile');
    const row = await findSubscription(deps.db, subscriptionId);
    // Known: the order that started it. Unknown to Settle: the order whose Checkout Stripe says made it.
    const order = row?.order_id ? await findOrder(deps.db, row.order_id) : startedBy;
    if (!order) return null;
    const subscription = await stripe.subscriptions.retrieve(subscriptionId);
    const latest = idOf(subscription.latest_invoice);
    const invoice = latest ? await stripe.invoices.retrieve(latest) : null;
    const now = Math.floor(Date.now() / 1000);
    const commands = commandsFromSubscriptionSnapshot(subscription, invoice, now);
    if (!commands) throw new PermanentError(`Stripe returned a subscription ${subscriptionId} or invoice ${latest} Settle cannot read`);
    // An order not confirmed yet is confirmed by its first invoice, which renewals may have
    // followed as the latest since (their webhooks lost with it): read it too, first.
    let first: TimedCommand[] = [];
    if (!isPaid(order.status as OrderStatus) && invoice?.billing_reason !== 'subscription_create') {
      const invoices = (await stripe.invoices.list({ subscription: subscriptionId, limit: 100 })).data;
      const opening = invoices.filter((i) => i.billing_reason === 'subscription_create').at(-1);
      if (opening) first = (commandsFromSubscriptionSnapshot(subscription, opening, now) ?? []).filter((c) => c.command.type !== 'subscription_changed');
    }
    const money = commandsFromInvoiceMoney(subscriptionId, await readInvoiceMoney(stripe, subscriptionId), now);
    return applyStripeReading(order, [...first, ...commands, ...money], actor);
  }

  async function applyStripeReading(current: OrderRow, commands: TimedCommand[], actor: string): Promise<ReconcileResult> {
    const orderId = current.id;
    const changes: OrderChange[] = [];
    const result = await deps.db.transaction().execute(async (trx) => {
      let order = current;
      for (const { command, at } of commands) {
        const source = { cause: 'reconciler', actor, eventId: null, stripeAt: at } as const;
        const r = await applyOrderCommand(trx, { orderId }, { kind: 'stripe', command }, { at, catalogue: deps.catalogue, logger: deps.logger }, source);
        if (r.status !== 'decided') continue;
        order = r.order;
        changes.push(r);
      }
      await markOrderReconciled(trx, orderId);
      return { order, changed: changes.some((c) => c.orderChanged || c.subscriptionChanged), commands: commands.map((c) => c.command.type) };
    });
    for (const c of changes) reportOrderChange(deps.metrics, deps.logger, c, { cause: 'reconciler', actor, eventId: null, stripeAt: null });
    if (result.changed) {
      deps.metrics.reconciliationDrift.inc();
      deps.logger.warn({ orderId, actor, commands: result.commands, status: result.order.status }, 'reconciliation corrected an order');
      deps.onOrderChanged(orderId);
    }
    return result;
  }

  /**
   * Unmatched events whose order exists by now go back to the queue. Every unmatched event of the
   * window is looked at, a page at a time: events naming orders that never come (another
   * deployment's, on the same Stripe account) must not hide newer ones. One statement per page
   * tells which of the ids they name Settle knows; only events naming one are looked up the
   * usual way (`lockTarget` decides), so an orphan costs no transaction of its own.
   */
  async function requeueMatchableEvents(): Promise<number> {
    const ids = await listRecentUnmatchedEventIds(deps.db);
    let requeued = 0;
    for (let start = 0; start < ids.length && !stopping; start += REQUEUE_PAGE) {
      const rows = await findUnmatchedEvents(deps.db, ids.slice(start, start + REQUEUE_PAGE));
      const targets = rows.flatMap((r) => {
        // A thin notification names no order: the references its snapshot had are in its recorded error.
        const mapped = isThinNotification(r.payload) ? null : mapStripeEvent(r.payload as StripeEventLike);
        const target = mapped?.supported ? { ref: mapped.ref, subscription: subscriptionRefOf(mapped.command) } : unmatchedTarget(r.last_error);
        return target ? [{ id: r.id, target, named: namedIds(target) }] : [];
      });
      const known = await knownOrderRefs(deps.db, targets.flatMap((t) => t.named));
      const matchable: string[] = [];
      for (const { id, target, named } of targets) {
        if (!named.some((v) => known.has(v))) continue;
        const found = await deps.db.transaction().execute((trx) => lockTarget(trx, target));
        if (found) matchable.push(id);
      }
      requeued += await requeueEvents(deps.db, matchable);
    }
    return requeued;
  }

  async function runOnce(trigger: string) {
    const runId = await startReconciliationRun(deps.db, trigger);
    let checked = 0;
    let disagreements = 0;
    let errors = 0;
    let requeuedEvents = 0;
    try {
      requeuedEvents = await requeueMatchableEvents();
      if (deps.stripe) {
        // Each stuck order, then each stale subscription: one failure is counted and logged, the rest go on.
        const check = async (ids: string[], what: 'order' | 'subscription', reconcile: (id: string, actor: string) => Promise<ReconcileResult | null>) => {
          for (const id of ids) {
            if (stopping) return;
            try {
              const r = await reconcile(id, 'reconciler');
              checked += 1;
              if (r?.changed) disagreements += 1;
            } catch (err) {
              errors += 1;
              deps.logger.warn({ [`${what}Id`]: id, err: errorMessage(err) }, `reconciliation of a ${what} failed`);
            }
          }
        };
        await check(await claimOrdersToReconcile(deps.db, deps.ages, deps.batch), 'order', reconcileOrder);
        if (stopping) return { checked, disagreements, errors, requeuedEvents };
        const stale = await claimStaleSubscriptions(deps.db, {
          statuses: OPEN_SUBSCRIPTION_STATUSES,
          graceMinutes: deps.subscriptionStaleAfterMinutes,
          everyMinutes: deps.subscriptionStaleAfterMinutes,
          limit: deps.batch,
        });
        await check(stale, 'subscription', reconcileSubscription);
      }
    } finally {
      await finishReconciliationRun(deps.db, runId, { checked, disagreements, errors, requeuedEvents });
    }
    deps.metrics.reconciliationLastDisagreements.set(disagreements);
    return { checked, disagreements, errors, requeuedEvents };
  }

  return {
    reconcileOrder,
    reconcileSubscription,
    runOnce,
    async drift() {
      const { last, checked24h, disagreements24h } = await reconciliationDrift(deps.db);
      return {
        lastRunAt: last?.finished_at ? new Date(last.finished_at).toISOString() : null,
        lastRunChecked: last?.checked ?? 0,
        lastRunDisagreements: last?.disagreements ?? 0,
        checked24h,
        disagreements24h,
      };
    },
    start(intervalMs) {
      if (intervalMs <= 0 || timer) return;
      const tick = () => {
        running = runOnce('schedule')
          .catch((err) => deps.logger.warn({ err: errorMessage(err) }, 'reconciliation run failed'))
          .finally(() => {
            running = null;
            if (timer) timer = setTimeout(tick, intervalMs);
          });
      };
      timer = setTimeout(tick, intervalMs);
    },
    async stop(deadlineMs = Number.POSITIVE_INFINITY) {
      stopping = true;
      if (timer) clearTimeout(timer);
      timer = null;
      if (!running) return true;
      const finished = Number.isFinite(deadlineMs) ? await settledWithin(running, deadlineMs) : (await running, true);
      if (!finished) deps.logger.warn({ deadlineMs }, 'reconciliation run still waiting (on Stripe or the database) at shutdown; left to end on its own, its orders are checked again by the next run');
      return finished;
    },
  };
}
