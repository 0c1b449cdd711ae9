import {
  claimOrdersToReconcile,
  findOrder,
  lockOrder,
  lockOrderByRef,
  lockOrderOfSubscription,
  requeueEvents,
  sql,
  type Db,
  type OrderRow,
  type ReconcileAges,
} from '@settle/db';
import {
  commandsFromStripeSnapshot,
  decide,
  mapStripeEvent,
  subscriptionIdOf,
  type StripeEventLike,
  type TimedCommand,
} from '@settle/payments-core';
import type { Logger } from 'pino';
import type Stripe from 'stripe';
import { errorMessage, PermanentError } from '../lib/errors.js';
import type { Metrics } from '../lib/metrics.js';
import { applyDecision } from './apply-decision.js';
import { toOrderState } from './order.mapper.js';
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

const idOf = (v: unknown): string | null =>
  typeof v === 'string' ? v : typeof v === 'object' && v !== null && typeof (v as { id?: unknown }).id === 'string' ? (v as { id: string }).id : null;

/**
 * The janitor (Kill Bill's idea): ask Stripe about orders that look stuck and apply what it says
 * through the same `decide` path as webhooks, with cause `reconciler`. Every order it had to
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
    const commands: TimedCommand[] = commandsFromStripeSnapshot(await snapshot(current), Math.floor(Date.now() / 1000));
    const product = deps.catalogue.get(current.product_id);
    if (!product) throw new PermanentError(`order ${orderId} has product ${current.product_id}, which is not in the catalogue`);
    const grant = deps.catalogue.grantFor(product, current.quantity);
    const result = await deps.db.transaction().execute(async (trx) => {
      let row = (await lockOrder(trx, orderId))!;
      let changed = false;
      for (const { command, at } of commands) {
        const before = toOrderState(row);
        const decision = decide(before, command, { at, grant });
        if (decision.outcome !== 'applied' && decision.outcome !== 'parked') continue;
        changed = true;
        const applied = await applyDecision(trx, row, before, decision, { cause: 'reconciler', actor, eventId: null, stripeAt: at });
        row = applied.order;
        for (const t of applied.applied.transitions) deps.metrics.transitions.inc({ from: t.from, to: t.to, cause: 'reconciler' });
      }
      await trx.updateTable('orders').set({ last_reconciled_at: sql`now()` }).where('id', '=', orderId).execute();
      return { order: row, changed, commands: commands.map((c) => c.command.type) };
    });
    if (result.changed) {
      deps.metrics.reconciliationDrift.inc();
      deps.logger.warn({ orderId, actor, commands: result.commands, status: result.order.status }, 'reconciliation corrected an order');
      deps.onOrderChanged(orderId);
    }
    return result;
  }

  /** Unmatched events whose order exists by now go back to the queue. */
  async function requeueMatchableEvents(): Promise<number> {
    const rows = await deps.db
      .selectFrom('stripe_events')
      .select(['id', 'payload'])
      .where('state', '=', 'unmatched')
      .where('received_at', '>', sql<Date>`now() - interval '7 days'`)
      .orderBy('received_at')
      .limit(200)
      .execute();
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
    const run = await deps.db.insertInto('reconciliation_runs').values({ trigger, finished_at: null }).returning('id').executeTakeFirstOrThrow();
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
      await deps.db
        .updateTable('reconciliation_runs')
        .set({ finished_at: sql`now()`, checked, disagreements, errors, requeued_events: requeuedEvents })
        .where('id', '=', run.id)
        .execute();
    }
    deps.metrics.reconciliationLastDisagreements.set(disagreements);
    return { checked, disagreements, errors, requeuedEvents };
  }

  return {
    reconcileOrder,
    runOnce,
    async drift() {
      const last = await deps.db.selectFrom('reconciliation_runs').selectAll().where('finished_at', 'is not', null).orderBy('id', 'desc').executeTakeFirst();
      const day = await sql<{ checked: number; disagreements: number }>`
        select coalesce(sum(checked), 0)::int as checked, coalesce(sum(disagreements), 0)::int as disagreements
        from reconciliation_runs where started_at > now() - interval '24 hours'`.execute(deps.db);
      return {
        lastRunAt: last?.finished_at ? new Date(last.finished_at).toISOString() : null,
        lastRunChecked: last?.checked ?? 0,
        lastRunDisagreements: last?.disagreements ?? 0,
        checked24h: Number(day.rows[0]?.checked ?? 0),
        disagreements24h: Number(day.rows[0]?.disagreements ?? 0),
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
