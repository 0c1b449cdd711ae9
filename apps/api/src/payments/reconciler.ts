import {
  claimOrdersToReconcile,
  findOrder,
  finishReconciliationRun,
  listRecentUnmatchedEvents,
  lockOrderByRef,
  lockOrderOfSubscription,
  markOrderReconciled,
  reconciliationDrift,
  requeueEvents,
  startReconciliationRun,
  type Db,
  type OrderRow,
  type ReconcileAges,
} from '@settle/db';
import { commandsFromStripeSnapshot, idOf, mapStripeEvent, subscriptionIdOf, type StripeEventLike } from '@settle/payments-core';
import type { Logger } from 'pino';
import type Stripe from 'stripe';
import { errorMessage, PermanentError } from '../lib/errors.js';
import type { Metrics } from '../lib/metrics.js';
import { applyOrderCommand, reportOrderChange, type OrderChange } from './order-command.js';
import type { ProductCatalogue } from './product-catalogue.js';

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
  runOnce(trigger: string): Promise<{ checked: number; disagreements: number; errors: number; requeuedEvents: number }>;
  drift(): Promise<DriftStats>;
  start(intervalMs: number): void;
  stop(): Promise<void>;
};

export type ReconcilerDeps = {
  db: Db;
  stripe: Stripe | null;
  catalogue: ProductCatalogue;
  logger: Logger;
  metrics: Metrics;
  ages: ReconcileAges;
  batch: number;
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

  async function snapshot(order: OrderRow) {
    const stripe = deps.stripe!;
    const session = order.checkout_session_id ? await stripe.checkout.sessions.retrieve(order.checkout_session_id) : null;
    const piId = order.payment_intent_id ?? idOf(session?.payment_intent);
    const paymentIntent = piId ? await stripe.paymentIntents.retrieve(piId, { expand: ['latest_charge'] }) : null;
    return { checkoutSession: session, paymentIntent, charge: null };
  }

  async function reconcileOrder(orderId: string, actor: string): Promise<ReconcileResult | null> {
    if (!deps.stripe) throw new PermanentError('Stripe is not configured; cannot reconcile');
    const current = await findOrder(deps.db, orderId);
    if (!current) return null;
    const commands = commandsFromStripeSnapshot(await snapshot(current), Math.floor(Date.now() / 1000));
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
      return { order, changed: changes.some((c) => c.orderChanged), commands: commands.map((c) => c.command.type) };
    });
    for (const c of changes) reportOrderChange(deps.metrics, deps.logger, c, { cause: 'reconciler', actor, eventId: null, stripeAt: null });
    if (result.changed) {
      deps.metrics.reconciliationDrift.inc();
      deps.logger.warn({ orderId, actor, commands: result.commands, status: result.order.status }, 'reconciliation corrected an order');
      deps.onOrderChanged(orderId);
    }
    return result;
  }

  /** Unmatched events whose order exists by now go back to the queue. */
  async function requeueMatchableEvents(): Promise<number> {
    const rows = await listRecentUnmatchedEvents(deps.db, 200);
    const matchable: string[] = [];
    for (const r of rows) {
      const mapped = mapStripeEvent(r.payload as StripeEventLike);
      if (!mapped.supported) continue;
      const found = await deps.db.transaction().execute(async (trx) =>
        (await lockOrderByRef(trx, mapped.ref)) ?? (await lockOrderOfSubscription(trx, subscriptionIdOf(mapped.command))));
      if (found) matchable.push(r.id);
    }
    return requeueEvents(deps.db, matchable);
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
        const ids = await claimOrdersToReconcile(deps.db, deps.ages, deps.batch);
        for (const id of ids) {
          try {
            const r = await reconcileOrder(id, 'reconciler');
            checked += 1;
            if (r?.changed) disagreements += 1;
          } catch (err) {
            errors += 1;
            deps.logger.warn({ orderId: id, err: errorMessage(err) }, 'reconciliation of an order failed');
          }
        }
      }
    } finally {
      await finishReconciliationRun(deps.db, runId, { checked, disagreements, errors, requeuedEvents });
    }
    deps.metrics.reconciliationLastDisagreements.set(disagreements);
    return { checked, disagreements, errors, requeuedEvents };
  }

  return {
    reconcileOrder,
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
    async stop() {
      if (timer) clearTimeout(timer);
      timer = null;
      await running;
    },
  };
}
