import {
  boundLockWaits,
  inSavepoint,
  dropLeases,
  isLockNotAvailable,
  leaseEvents,
  lockEvent,
  lockEventForProcessing,
  lockEventsForProcessing,
  returnEventsToQueue,
  settleEvent,
  settleEvents,
  type Db,
  type EventSettlement,
  type StripeEventRow,
  type Trx,
} from '@settle/db';
import { nextRetry, type RetryPolicy, type StripeEventLike } from '@settle/payments-core';
import type { Logger } from 'pino';
import { errorMessage, isTransient } from '../lib/errors.js';
import type { Metrics } from '../lib/metrics.js';
import { processStripeEvent, type StripeEventDeps } from '../payments/event-processor.js';
import { outcomeLabel, reportOrderChange, type OrderChange } from '../payments/order-command.js';
import { openOrderUnitOfWork, type OrderUnitOfWork } from '../payments/order-unit-of-work.js';
import { needsStripeRead } from '../payments/stripe-event-resolver.js';
import { askFrom, createStripeReader, NO_READS, STRIPE_READ_ROUNDS, StripeReadFirst, type StripeReads } from './stripe-reads.js';

/** How processing reads its event and writes the outcome: directly, or through a batch. */
type EventIo = {
  load(trx: Trx, eventId: string): Promise<StripeEventRow | undefined>;
  settle(trx: Trx, eventId: string, settlement: EventSettlement): Promise<void>;
};

export type ProcessResult =
  | { status: 'processed'; outcome: string; orderId: string | null; type?: string; handler?: string; afterCommit?: () => void }
  | { status: 'retry' | 'dead' | 'unmatched'; error: string }
  /** Another worker holds the event's row; it will settle it. */
  | { status: 'busy' }
  /** Already settled (processed, dead or unmatched). */
  | { status: 'settled' };
type Processed = ProcessResult & { changed?: boolean };
/** A batch's results, and the events it left unsettled until Stripe is read for them (`StripeReadFirst`). */
type BatchRun = { results: ProcessResult[]; readFirst: Map<string, StripeReadFirst> };

export type InboxProcessorDeps = StripeEventDeps & {
  db: Db;
  retry: RetryPolicy;
  /** How many times an event whose order does not exist yet is tried before it is parked as unmatched. */
  unmatchedMaxAttempts: number;
  /** Stripe reads in flight at once, across all of this processor's batches (default 8: env `STRIPE_READS_AT_ONCE`). */
  stripeReadsAtOnce?: number;
  metrics: Metrics;
  /**
   * Ask Stripe for the truth about an order whose events Stripe failed to generate and apply it.
   * Run like a Stripe read (no transaction open, before the event settles): when it fails, the
   * event's attempt fails, and it is retried, then dead-lettered; never settled without it.
   */
  reconcileOrder?: (orderId: string) => Promise<void>;
  random?: () => number;
  /**
   * Watches each processing transaction while it runs (readiness: one that never ends means the
   * database stopped answering). Stripe reads happen between transactions and are not watched: a
   * slow Stripe is every instance's, and failing readiness for it would take them all out of the
   * load balancer, webhooks included.
   */
  track?: <T>(name: string, work: Promise<T>) => Promise<T>;
  /**
   * The event worker's lease: an event waiting for its Stripe read is leased to it meanwhile
   * (at least `STRIPE_READ_LEASE_MS`), so other instances' claims do not read Stripe for it too.
   */
  lease?: { workerId: string; ms: number };
};

/** The least an event is leased for while its Stripe read is made (Stripe's timeout and retries: up to ~46 s). */
export const STRIPE_READ_LEASE_MS = 60_000;

export type InboxProcessor = {
  process(eventId: string): Promise<ProcessResult>;
  /** Process claimed events together, one commit for all (see `processBatch`). */
  processBatch(eventIds: string[]): Promise<ProcessResult[]>;
  /** An order changed; listeners (live status) are told after the commit. */
  onOrderChanged(listener: (orderId: string) => void): void;
};

/**
 * The inbox's mechanics: one transaction per event (or per batch) that locks the stored event,
 * has `processStripeEvent` apply it, and settles it. Failures are recorded on the event with a
 * backoff and end in the dead letters; events whose order never appears are parked as unmatched.
 * Nothing is dropped.
 */
export function createInboxProcessor(deps: InboxProcessorDeps): InboxProcessor {
  const random = deps.random ?? Math.random;
  const track = deps.track ?? (<T>(_name: string, work: Promise<T>) => work);
  /** One processing transaction, watched while it runs. */
  const transaction = <T>(work: (trx: Trx) => Promise<T>): Promise<T> => track('processing transaction', deps.db.transaction().execute(work));
  const listeners: ((orderId: string) => void)[] = [];
  const workerId = deps.lease?.workerId;
  const readLease = deps.lease ? { ...deps.lease, ms: Math.max(deps.lease.ms, STRIPE_READ_LEASE_MS) } : null;
  /** Reads and settles one event at a time; another worker's lease keeps it out (`lockEventForProcessing`). */
  const DIRECT_IO: EventIo = { load: (trx, id) => lockEventForProcessing(trx, id, workerId), settle: settleEvent };
  /**
   * Events this processor is working on (in a transaction, or between them waiting for Stripe),
   * each with the call that owns it. An event reaches it twice when this instance claims one it
   * stored a moment ago: the second call leaves it to the first instead of asking Stripe again.
   */
  const working = new Map<string, symbol>();
  /** Events a call left to their owner (a claim may have leased them): made claimable again once the owner is done. */
  const askedAgain = new Map<string, symbol>();

  const readFromStripe = createStripeReader(deps.stripe ?? null, deps.stripeReadsAtOnce ?? 8);

  async function processLocked(trx: Trx, eventId: string, io: EventIo = DIRECT_IO, unit?: OrderUnitOfWork, reads: StripeReads = NO_READS): Promise<Processed> {
    const ev = await io.load(trx, eventId);
    if (!ev) return { status: 'busy' };
    if (ev.state !== 'pending' && ev.state !== 'failed') return { status: 'settled' };
    const attempts = ev.attempts + 1;
    const known = reads.get(eventId);
    const resolved = known?.resolved;
    if (!resolved && needsStripeRead(ev.payload)) throw new StripeReadFirst(eventId, ev.payload);
    if (resolved && 'failed' in resolved) throw resolved.failed;
    const ask = askFrom(eventId, ev.payload, known);
    const verdict = await processStripeEvent(trx, eventId, ev.payload, deps, unit, resolved?.ready, ask);
    switch (verdict.kind) {
      case 'unsupported':
        await io.settle(trx, eventId, { state: 'processed', outcome: verdict.kind, attempts, lastError: null });
        return { status: 'processed', outcome: verdict.kind, orderId: null };
      case 'ignored':
        await io.settle(trx, eventId, { state: 'ignored', outcome: 'not_settle', attempts, lastError: null });
        return { status: 'processed', outcome: 'not_settle', orderId: null };
      case 'reconcile': {
        const { orderId } = verdict;
        const reconcile = deps.reconcileOrder;
        // Settled only once the order is reconciled: after the commit, a failed or interrupted
        // reconciliation would be lost for good (the reconciler's rounds skip paid orders).
        if (reconcile) await ask(`reconcile order ${orderId}`, () => reconcile(orderId));
        await io.settle(trx, eventId, { state: 'processed', outcome: 'reconcile', orderId, attempts, lastError: null });
        return { status: 'processed', outcome: 'reconcile', orderId };
      }
      case 'no_order':
        return parkUnmatched(trx, io, eventId, attempts, verdict.error);
      case 'decided':
        return settleDecided(trx, io, ev, verdict.event, attempts, verdict.change);
    }
  }

  /** An event applied to its order: settle it, and count it once the transaction commits. */
  async function settleDecided(trx: Trx, io: EventIo, ev: StripeEventRow, event: StripeEventLike, attempts: number, change: OrderChange): Promise<Processed> {
    const outcome = outcomeLabel(change);
    await io.settle(trx, ev.id, { state: 'processed', outcome, orderId: change.order.id, attempts, lastError: null });
    const changed = change.orderChanged || change.subscriptionChanged;
    if (change.subject === 'subscription') return { status: 'processed', outcome, orderId: change.order.id, changed };
    const processedAt = Date.now();
    // Counted once the transaction commits: a rolled-back batch is processed again.
    const afterCommit = () => {
      reportOrderChange(deps.metrics, deps.logger, change, { cause: 'stripe_event', actor: 'stripe', eventId: ev.id, stripeAt: event.created });
      // One observation per event, from its first processing: a replay is not processed again from
      // its receipt, and its wait for an operator is not processing latency (as in the console's summary).
      if (ev.replayed_at === null) deps.metrics.eventLatency.observe(
        { type: event.type, handler: change.handler, outcome: change.outcome },
        Math.max(0, (processedAt - new Date(ev.received_at).getTime()) / 1000),
      );
    };
    return { status: 'processed', outcome, orderId: change.order.id, type: event.type, handler: change.handler, afterCommit, changed };
  }

  /**
   * No order matches yet: the webhook can beat the transaction that creates the order. Try again
   * on a schedule, then park the event as unmatched for an admin (the reconciler requeues it
   * once its order exists).
   */
  async function parkUnmatched(trx: Trx, io: EventIo, eventId: string, attempts: number, error: string): Promise<Processed> {
    const verdict = nextRetry({ ...deps.retry, maxAttempts: deps.unmatchedMaxAttempts }, attempts, random());
    const appendError = { at: new Date().toISOString(), attempt: attempts, error, transient: true };
    if (verdict.retry) {
      await io.settle(trx, eventId, { state: 'failed', outcome: 'unmatched', attempts, retryInMs: verdict.delayMs, lastError: error, appendError });
      return { status: 'retry', error };
    }
    await io.settle(trx, eventId, { state: 'unmatched', outcome: 'unmatched', attempts, lastError: error, appendError });
    return { status: 'unmatched', error };
  }

  /**
   * A failed attempt: retry with backoff when the fault is transient and attempts remain;
   * otherwise the event goes to the dead letters, kept for a fix and a replay.
   */
  async function deadLetter(trx: Trx, eventId: string, err: unknown): Promise<ProcessResult> {
    const error = errorMessage(err);
    const transient = isTransient(err);
    const ev = await lockEvent(trx, eventId);
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

  function report(eventId: string, result: Processed) {
    deps.metrics.eventAttempts.inc({ result: result.status });
    if (result.status === 'processed') {
      result.afterCommit?.();
      deps.logger.info({ eventId, type: result.type, orderId: result.orderId, handler: result.handler, outcome: result.outcome }, 'event processed');
      if (result.changed && result.orderId) for (const l of listeners) l(result.orderId);
    } else if (result.status === 'dead' || result.status === 'unmatched') {
      deps.logger.warn({ eventId, status: result.status, err: result.error }, 'event parked');
    }
  }

  async function processOne(eventId: string, reads: StripeReads = NO_READS, round = 0): Promise<ProcessResult> {
    let result: Processed;
    try {
      result = await transaction((trx) => processLocked(trx, eventId, DIRECT_IO, undefined, reads));
    } catch (err) {
      // Rolled back: ask Stripe with no transaction open, then run again.
      if (err instanceof StripeReadFirst && round < STRIPE_READ_ROUNDS) {
        if (readLease) await leaseEvents(deps.db, [eventId], readLease).catch((e: unknown) => deps.logger.warn({ eventId, err: errorMessage(e) }, 'could not lease an event for its Stripe read'));
        return processOne(eventId, await readFromStripe(new Map([[eventId, err]]), reads), round + 1);
      }
      deps.logger.warn({ eventId, err: errorMessage(err) }, 'event processing failed');
      try {
        result = await transaction((trx) => deadLetter(trx, eventId, err));
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
   * (past `lock_timeout`) is left for the next claim. An event that needs a Stripe read not made
   * yet is left unsettled (still leased to this worker) and named in `readFirst`.
   */
  async function runBatch(eventIds: string[], savepoints: boolean, reads: StripeReads): Promise<BatchRun> {
    const results: Processed[] = new Array<Processed>(eventIds.length);
    const readFirst = new Map<string, StripeReadFirst>();
    await transaction(async (trx) => {
      await boundLockWaits(trx, 200);
      // One read locks the whole batch; outcomes are written together before the commit.
      const rows = new Map((await lockEventsForProcessing(trx, eventIds, workerId)).map((r) => [r.id, r]));
      const settled: (EventSettlement & { id: string })[] = [];
      const deferred: string[] = [];
      // The common case reads and locks every order of the batch at once and pools its writes
      // (see `OrderUnitOfWork`); the savepoint pass (after a failure) goes event by event.
      const unit = savepoints ? undefined : await openOrderUnitOfWork(trx, [...rows.values()].filter((r) => r.state === 'pending' || r.state === 'failed'));
      // In Stripe's time order (claim order among equals): the way the facts happened.
      const stripeAt = (id: string) => {
        const row = rows.get(id);
        return row ? new Date(row.stripe_created).getTime() : 0;
      };
      const sequence = eventIds.map((_, i) => i).sort((a, b) => stripeAt(eventIds[a]!) - stripeAt(eventIds[b]!) || a - b);
      for (const i of sequence) {
        const id = eventIds[i]!;
        const pending: (EventSettlement & { id: string })[] = [];
        const io: EventIo = {
          load: async () => rows.get(id),
          settle: async (_trx, eventId, settlement) => void pending.push({ id: eventId, ...settlement }),
        };
        if (unit?.heldElsewhere(id)) {
          // Its order is another transaction's now: left for the next claim rather than waited for.
          deferred.push(id);
          results[i] = { status: 'busy' };
          continue;
        }
        try {
          // Without savepoints a failure aborts the batch, except a `StripeReadFirst` for the stored
          // payload: thrown before the event did anything. A question asked on the way may follow
          // work of the event's own, so it aborts the batch, and the savepoint pass asks it.
          results[i] = savepoints ? await inSavepoint(trx, () => processLocked(trx, id, io, undefined, reads)) : await processLocked(trx, id, io, unit, reads);
          settled.push(...pending);
        } catch (err) {
          if (err instanceof StripeReadFirst && (savepoints || err.question === null)) {
            readFirst.set(id, err);
            continue;
          }
          if (!savepoints) throw err;
          if (isLockNotAvailable(err)) {
            deferred.push(id);
            results[i] = { status: 'busy' };
            continue;
          }
          deps.logger.warn({ eventId: id, err: errorMessage(err) }, 'event processing failed');
          results[i] = await deadLetter(trx, id, err);
        }
      }
      await unit?.flush(trx);
      await settleEvents(trx, settled);
      // Left unsettled for their Stripe reads: this worker's until it has read and run them again.
      if (readLease) await leaseEvents(trx, [...readFirst.keys()], readLease);
      // Deferred events go back to the queue at once, for a claim after the lock is gone.
      await returnEventsToQueue(trx, deferred);
    });
    return { results, readFirst };
  }

  /**
   * Several events in one transaction, one commit. A failing event is rolled back alone and
   * recorded as a failed attempt while the others commit. Lock waits are bounded
   * (`lock_timeout`): an event whose order another transaction holds is left for the next claim
   * instead of waiting, so batches never deadlock with each other.
   */
  async function processBatch(eventIds: string[]): Promise<ProcessResult[]> {
    return exclusively(eventIds, (ids, done) => processBatchOf(ids, done));
  }

  /**
   * `work` for the events not already being worked on here; the others are `busy` for this call.
   * An event is released as soon as its outcome is committed (`done`), so a retry that falls due
   * meanwhile is not turned away; one turned away while its owner worked may carry this worker's
   * lease from the claim that brought it, so its lease is dropped as the owner releases it.
   */
  async function exclusively(eventIds: string[], work: (ids: string[], done: (id: string) => void) => Promise<ProcessResult[]>): Promise<ProcessResult[]> {
    const call = Symbol('processing call');
    const mine: string[] = [];
    for (const id of new Set(eventIds)) {
      const owner = working.get(id);
      if (owner) askedAgain.set(id, owner);
      else {
        working.set(id, call);
        mine.push(id);
      }
    }
    const done = (id: string) => {
      if (working.get(id) !== call) return;
      working.delete(id);
      if (askedAgain.get(id) !== call) return;
      askedAgain.delete(id);
      // A claim turned away meanwhile left its lease on it: dropped now, so the next claim takes it.
      if (workerId) {
        void dropLeases(deps.db, [id], workerId).catch((err: unknown) => deps.logger.warn({ eventId: id, err: errorMessage(err) }, 'could not drop a lease; it expires on its own'));
      }
    };
    try {
      const results = mine.length > 0 ? await work(mine, done) : [];
      const byId = new Map(mine.map((id, i) => [id, results[i]!]));
      // Left undecided (its row was another transaction's at that moment): any worker may take it
      // at the next claim, not only this one once the lease it took for a claim or a Stripe read
      // ends. Not waited for: the drop itself waits for that transaction.
      const untouched = mine.filter((id) => byId.get(id)?.status === 'busy');
      if (workerId && untouched.length > 0) {
        void dropLeases(deps.db, untouched, workerId).catch((err: unknown) => deps.logger.warn({ events: untouched.length, err: errorMessage(err) }, 'could not drop leases; they expire on their own'));
      }
      return eventIds.map((id) => byId.get(id) ?? { status: 'busy' });
    } finally {
      for (const id of mine) done(id);
    }
  }

  async function processBatchOf(eventIds: string[], done: (id: string) => void): Promise<ProcessResult[]> {
    if (eventIds.length === 1) return [await processOne(eventIds[0]!)];
    const results = new Map<string, ProcessResult>();
    let ids = eventIds;
    let reads = NO_READS;
    for (let round = 0; ids.length > 0; round += 1) {
      // Events that need Stripe: read now, with the last transaction committed, then one more batch.
      const run = round > 0 && (ids.length === 1 || round >= STRIPE_READ_ROUNDS) ? await eachAlone(ids, reads, round) : await runBatchOrEach(ids, reads);
      for (const [i, id] of ids.entries()) {
        if (run.readFirst.has(id)) continue;
        results.set(id, run.results[i]!);
        done(id);
      }
      if (run.readFirst.size === 0) break;
      reads = await readFromStripe(run.readFirst, reads);
      ids = [...run.readFirst.keys()];
    }
    return eventIds.map((id) => results.get(id)!);
  }

  /** `runBatch`, again with savepoints after a failure, else event by event; every settled event reported. */
  async function eachAlone(eventIds: string[], reads: StripeReads, round = 0): Promise<BatchRun> {
    const results: ProcessResult[] = [];
    for (const id of eventIds) results.push(await processOne(id, reads, round));
    return { results, readFirst: new Map() };
  }

  async function runBatchOrEach(eventIds: string[], reads: StripeReads): Promise<BatchRun> {
    let run: BatchRun;
    try {
      // Common case first: every event succeeds, so no savepoints (two round trips an event).
      run = await runBatch(eventIds, false, reads).catch((err: unknown) => {
        deps.logger.debug({ events: eventIds.length, err: errorMessage(err) }, 'batch hit a failure; again with a savepoint per event');
        return runBatch(eventIds, true, reads);
      });
    } catch (err) {
      // The batch as a whole failed (its commit, the connection): fall back to one at a time,
      // each recording its own failure.
      deps.logger.warn({ events: eventIds.length, err: errorMessage(err) }, 'batch failed; processing its events one by one');
      return eachAlone(eventIds, reads);
    }
    eventIds.forEach((id, i) => run.readFirst.has(id) || report(id, run.results[i]!));
    return run;
  }

  return {
    onOrderChanged(listener) {
      listeners.push(listener);
    },
    process: async (eventId) => (await exclusively([eventId], async ([id]) => [await processOne(id!)]))[0]!,
    processBatch,
  };
}
