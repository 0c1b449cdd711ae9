import {
  sql,
  lockEventForProcessing,
  lockOrderByRef,
  lockOrderOfSubscription,
  settleEvent,
  settleEvents,
  lockEventsForProcessing,
  recordCustomerEmail,
  type Db,
  type EventSettlement,
  type StripeEventRow,
  type Trx,
} from '@settle/db';
import { decide, decideShadow, mapStripeEvent, nextRetry, subscriptionIdOf, type OrderState, type RetryPolicy, type StripeEventLike } from '@settle/payments-core';
import type { Logger } from 'pino';
import { errorMessage, isTransient, PermanentError } from '../lib/errors.js';
import type { Metrics } from '../lib/metrics.js';
import { applyDecision } from './apply-decision.js';
import { toOrderState } from './order.mapper.js';
import type { ProductCatalogue } from './product-catalogue.js';
import { readShadowState, recordShadowDecision } from './shadow-state.js';
import { afterSubscriptionOrderDecision, applySubscriptionFacts } from './subscription-sync.js';

/** How processing reads its event and writes the outcome: directly, or through a batch. */
type EventIo = {
  load(trx: Trx, eventId: string): Promise<StripeEventRow | undefined>;
  settle(trx: Trx, eventId: string, settlement: EventSettlement): Promise<void>;
};
const DIRECT_IO: EventIo = { load: lockEventForProcessing, settle: settleEvent };

/** SQLSTATE of a lock wait that hit `lock_timeout`. */
const LOCK_NOT_AVAILABLE = '55P03';

export type ProcessResult =
  | { status: 'processed'; outcome: string; orderId: string | null; type?: string; handler?: string; afterCommit?: () => void }
  | { status: 'retry' | 'dead' | 'unmatched'; error: string }
  /** Another worker holds the event's row; it will settle it. */
  | { status: 'busy' }
  /** Already settled (processed, dead or unmatched). */
  | { status: 'settled' };

export type EventProcessorDeps = {
  db: Db;
  catalogue: ProductCatalogue;
  retry: RetryPolicy;
  /** How many times an event whose order does not exist yet is tried before it is parked as unmatched. */
  unmatchedMaxAttempts: number;
  logger: Logger;
  metrics: Metrics;
  random?: () => number;
  /** Test seam: called before an event is applied; a throw is a handler fault. */
  beforeApply?: (event: StripeEventLike) => void;
};

export type EventProcessor = {
  process(eventId: string): Promise<ProcessResult>;
  /** Process claimed events together, one commit for all (see `processBatch`). */
  processBatch(eventIds: string[]): Promise<ProcessResult[]>;
  /** An order changed; listeners (live status) are told after the commit. */
  onOrderChanged(listener: (orderId: string) => void): void;
};

/**
 * Processes one inbox event at a time, in one transaction that locks the event and its order,
 * decides, carries out the decision and settles the event. Failures are recorded on the event
 * with a backoff; nothing is dropped.
 */
export function createEventProcessor(deps: EventProcessorDeps): EventProcessor {
  const random = deps.random ?? Math.random;
  const listeners: ((orderId: string) => void)[] = [];

  async function processLocked(trx: Trx, eventId: string, io: EventIo = DIRECT_IO): Promise<ProcessResult & { changed?: boolean }> {
    const ev = await io.load(trx, eventId);
    if (!ev) return { status: 'busy' };
    if (ev.state !== 'pending' && ev.state !== 'failed') return { status: 'settled' };
    const attempts = ev.attempts + 1;
    const event = ev.payload as StripeEventLike;
    deps.beforeApply?.(event);
    const mapped = mapStripeEvent(event);
    if (!mapped.supported) {
      await io.settle(trx, eventId, { state: 'processed', outcome: 'unsupported', attempts, lastError: null });
      return { status: 'processed', outcome: 'unsupported', orderId: null };
    }
    // Subscription events and invoices may carry no order id: their subscription leads to the order.
    const row = (await lockOrderByRef(trx, mapped.ref)) ?? (await lockOrderOfSubscription(trx, subscriptionIdOf(mapped.command)));
    if (!row && isForeignPaymentIntent(event)) {
      // Settle puts the order id on every PaymentIntent it creates; one without it is someone
      // else's (a subscription invoice's, a payment made outside Settle): nothing to wait for.
      await io.settle(trx, eventId, { state: 'processed', outcome: 'not_settle', attempts, lastError: null });
      return { status: 'processed', outcome: 'not_settle', orderId: null };
    }
    if (!row) {
      // The webhook can beat the transaction that creates the order: try again on a schedule,
      // then park the event as unmatched for an admin.
      const error = `no order matches ${JSON.stringify(mapped.ref)}`;
      const verdict = nextRetry({ ...deps.retry, maxAttempts: deps.unmatchedMaxAttempts }, attempts, random());
      const appendError = { at: new Date().toISOString(), attempt: attempts, error, transient: true };
      if (verdict.retry) {
        await io.settle(trx, eventId, { state: 'failed', outcome: 'unmatched', attempts, retryInMs: verdict.delayMs, lastError: error, appendError });
        return { status: 'retry', error };
      }
      await io.settle(trx, eventId, { state: 'unmatched', outcome: 'unmatched', attempts, lastError: error, appendError });
      return { status: 'unmatched', error };
    }
    const product = deps.catalogue.get(row.product_id);
    if (!product) throw new PermanentError(`order ${row.id} has product ${row.product_id}, which is not in the catalogue`);
    if (mapped.command.type === 'subscription_changed') {
      const sub = await applySubscriptionFacts(trx, row, product, mapped.command.subscription, event.created);
      const outcome = sub.stale ? 'stale' : sub.changed ? 'subscription_changed' : 'noop';
      await io.settle(trx, eventId, { state: 'processed', outcome, orderId: row.id, attempts, lastError: null });
      return { status: 'processed', outcome, orderId: row.id, changed: sub.changed };
    }
    const before = toOrderState(row);
    const ctx = { at: event.created, grant: deps.catalogue.grantFor(product, row.quantity) };
    // Shadow mode: legacy decides (and is carried out exactly as without a shadow); the new
    // handler decides the same command on its own copy, which is stored with any disagreement.
    const shadowBefore = row.handler === 'legacy' ? shadowStateOf(row) : null;
    const shadowed = shadowBefore ? decideShadow(before, shadowBefore, mapped.command, ctx) : null;
    const decision = shadowed ? shadowed.decision : decide(before, mapped.command, ctx);
    const { applied } = await applyDecision(trx, row, before, decision, {
      cause: 'stripe_event',
      actor: 'stripe',
      eventId,
      stripeAt: event.created,
    });
    const email = checkoutEmailOf(event);
    if (email && !row.customer_email) await recordCustomerEmail(trx, row.id, email);
    const sub = row.mode === 'subscription'
      ? await afterSubscriptionOrderDecision(trx, row, product, mapped.command, decision, event.created)
      : null;
    const disagreement =
      shadowed && shadowBefore && (await recordShadowDecision(trx, row.id, eventId, shadowBefore, shadowed)) ? shadowed.disagreement : null;
    const outcome = decision.rejection ? `${decision.outcome}:${decision.rejection.code}` : decision.outcome;
    await io.settle(trx, eventId, { state: 'processed', outcome, orderId: row.id, attempts, lastError: null });
    const processedAt = Date.now();
    // Counted once the transaction commits: a rolled-back batch is processed again.
    const afterCommit = () => {
      if (disagreement) {
        deps.metrics.shadowDisagreements.inc({ kind: disagreement.kind });
        deps.logger.info({ orderId: row.id, eventId, ...disagreement }, 'shadow handler disagrees with legacy');
      }
      for (const t of applied.transitions) deps.metrics.transitions.inc({ from: t.from, to: t.to, cause: 'stripe_event' });
      if (applied.granted) deps.metrics.grants.inc({ action: 'grant' }, applied.granted);
      if (applied.revoked) deps.metrics.grants.inc({ action: 'revoke' }, applied.revoked);
      deps.metrics.eventLatency.observe(
        { type: event.type, handler: row.handler, outcome: decision.outcome },
        Math.max(0, (processedAt - new Date(ev.received_at).getTime()) / 1000),
      );
    };
    return {
      status: 'processed',
      outcome,
      orderId: row.id,
      type: event.type,
      handler: row.handler,
      afterCommit,
      changed: decision.outcome === 'applied' || decision.outcome === 'parked' || !!sub?.changed,
    };
  }

  /** A malformed shadow copy must never hold up the authoritative (legacy) processing. */
  function shadowStateOf(row: Parameters<typeof readShadowState>[0]): OrderState | null {
    try {
      return readShadowState(row);
    } catch (err) {
      deps.logger.error({ orderId: row.id, err: errorMessage(err) }, 'shadow state unreadable; processing without the shadow');
      return null;
    }
  }

  /** Count a failed attempt: retry with backoff, or dead letter when permanent or out of attempts. */
  async function recordFailureIn(trx: Trx, eventId: string, err: unknown): Promise<ProcessResult> {
    const error = errorMessage(err);
    const transient = isTransient(err);
    const ev = await trx.selectFrom('stripe_events').select(['state', 'attempts']).where('id', '=', eventId).forUpdate().executeTakeFirst();
    if (!ev || (ev.state !== 'pending' && ev.state !== 'failed')) return { status: 'settled' };
    const attempts = ev.attempts + 1;
    const verdict = transient ? nextRetry(deps.retry, attempts, random()) : ({ retry: false } as const);
    const appendError = { at: new Date().toISOString(), attempt: attempts, error, transient };
    if (verdict.retry) {
      await settleEvent(trx, eventId, { state: 'failed', outcome: 'error', attempts, retryInMs: verdict.delayMs, lastError: error, appendError });
      return { status: 'retry', error };
    }
    await settleEvent(trx, eventId, { state: 'dead', outcome: transient ? 'retries_exhausted' : 'permanent_error', attempts, lastError: error, appendError });
    return { status: 'dead', error };
  }

  function recordFailure(eventId: string, err: unknown): Promise<ProcessResult> {
    return deps.db.transaction().execute((trx) => recordFailureIn(trx, eventId, err));
  }

  function report(eventId: string, result: ProcessResult & { changed?: boolean }) {
    deps.metrics.eventAttempts.inc({ result: result.status });
    if (result.status === 'processed') {
      result.afterCommit?.();
      deps.logger.info({ eventId, type: result.type, orderId: result.orderId, handler: result.handler, outcome: result.outcome }, 'event processed');
      if (result.changed && result.orderId) for (const l of listeners) l(result.orderId);
    } else if (result.status === 'dead' || result.status === 'unmatched') {
      deps.logger.warn({ eventId, status: result.status, err: result.error }, 'event parked');
    }
  }

  async function processOne(eventId: string): Promise<ProcessResult> {
    let result: ProcessResult & { changed?: boolean };
    try {
      result = await deps.db.transaction().execute((trx) => processLocked(trx, eventId));
    } catch (err) {
      deps.logger.warn({ eventId, err: errorMessage(err) }, 'event processing failed');
      try {
        result = await recordFailure(eventId, err);
      } catch (recordErr) {
        // The database is unreachable: the event stays due (or leased) and is retried later.
        deps.logger.error({ eventId, err: errorMessage(recordErr) }, 'could not record processing failure');
        result = { status: 'retry', error: errorMessage(err) };
      }
    }
    report(eventId, result);
    return result;
  }

  /**
   * One transaction for the batch. Without savepoints any failure aborts the whole batch (the
   * caller retries it with them); with a savepoint per event, a failing event is rolled back
   * alone and recorded as a failed attempt, and an event whose order another transaction holds
   * (past `lock_timeout`) is left for the next claim.
   */
  async function runBatch(eventIds: string[], savepoints: boolean): Promise<(ProcessResult & { changed?: boolean })[]> {
    const results: (ProcessResult & { changed?: boolean })[] = [];
    await deps.db.transaction().execute(async (trx) => {
      await sql`set local lock_timeout = '200ms'`.execute(trx);
      // One read locks the whole batch; outcomes are written together before the commit.
      const rows = new Map((await lockEventsForProcessing(trx, eventIds)).map((r) => [r.id, r]));
      const settled: (EventSettlement & { id: string })[] = [];
      const deferred: string[] = [];
      for (const id of eventIds) {
        const pending: (EventSettlement & { id: string })[] = [];
        const io: EventIo = {
          load: async () => rows.get(id),
          settle: async (_trx, eventId, settlement) => void pending.push({ id: eventId, ...settlement }),
        };
        if (!savepoints) {
          results.push(await processLocked(trx, id, io));
          settled.push(...pending);
          continue;
        }
        await sql`savepoint settle_event`.execute(trx);
        try {
          results.push(await processLocked(trx, id, io));
          await sql`release savepoint settle_event`.execute(trx);
          settled.push(...pending);
        } catch (err) {
          await sql`rollback to savepoint settle_event`.execute(trx);
          if ((err as { code?: unknown }).code === LOCK_NOT_AVAILABLE) {
            deferred.push(id);
            results.push({ status: 'busy' });
            continue;
          }
          deps.logger.warn({ eventId: id, err: errorMessage(err) }, 'event processing failed');
          results.push(await recordFailureIn(trx, id, err));
        }
      }
      await settleEvents(trx, settled);
      // Deferred events go back to the queue at once, for a claim after the lock is gone.
      if (deferred.length) await trx.updateTable('stripe_events').set({ locked_until: null, locked_by: null }).where('id', 'in', deferred).execute();
    });
    return results;
  }

  /**
   * Several events in one transaction, one commit. A failing event is rolled back alone and
   * recorded as a failed attempt while the others commit. Lock waits are bounded
   * (`lock_timeout`): an event whose order another transaction holds is left for the next claim
   * instead of waiting, so batches never deadlock with each other.
   */
  async function processBatch(eventIds: string[]): Promise<ProcessResult[]> {
    if (eventIds.length === 1) return [await processOne(eventIds[0]!)];
    let results: (ProcessResult & { changed?: boolean })[];
    try {
      // Common case first: every event succeeds, so no savepoints (two round trips an event).
      results = await runBatch(eventIds, false).catch((err: unknown) => {
        deps.logger.debug({ events: eventIds.length, err: errorMessage(err) }, 'batch hit a failure; again with a savepoint per event');
        return runBatch(eventIds, true);
      });
    } catch (err) {
      // The batch as a whole failed (its commit, the connection): fall back to one at a time,
      // each recording its own failure.
      deps.logger.warn({ events: eventIds.length, err: errorMessage(err) }, 'batch failed; processing its events one by one');
      const one: ProcessResult[] = [];
      for (const id of eventIds) one.push(await processOne(id));
      return one;
    }
    eventIds.forEach((id, i) => report(id, results[i]!));
    return results;
  }

  return {
    onOrderChanged(listener) {
      listeners.push(listener);
    },
    process: processOne,
    processBatch,
  };
}

/** A PaymentIntent event without Settle's `metadata.orderId` was not created by a Settle checkout. */
function isForeignPaymentIntent(event: StripeEventLike): boolean {
  if (!event.type.startsWith('payment_intent.')) return false;
  const metadata = (event.data.object as { metadata?: Record<string, unknown> } | null)?.metadata;
  return typeof metadata?.orderId !== 'string';
}

/** The e-mail a Checkout Session collected, for finding the order in the console (never logged). */
function checkoutEmailOf(event: StripeEventLike): string | null {
  if (!event.type.startsWith('checkout.session.')) return null;
  const details = (event.data.object as { customer_details?: { email?: unknown } } | null)?.customer_details;
  return typeof details?.email === 'string' && details.email.includes('@') ? details.email : null;
}
