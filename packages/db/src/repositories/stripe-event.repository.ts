import { sql } from 'kysely';
import type { Db, Trx } from '../database.js';
import { cursorTime } from './order.repository.js';
import type { InboxState } from '@settle/payments-core';
import type { AttemptError, NewStripeEvent, StripeEventRow } from '../tables/stripe-event.table.js';

/**
 * Store events in the inbox. Stripe's event id is the primary key, so a redelivery inserts
 * nothing; returns the ids this call stored. (The webhook's group commit, `createInboxWriter`,
 * goes through here on PGlite.)
 */
export async function insertEvents(db: Db | Trx, events: NewStripeEvent[]): Promise<Set<string>> {
  if (events.length === 0) return new Set();
  const rows = await db
    .insertInto('stripe_events')
    // A row stored already settled (its state given) is processed as of its insert.
    .values(events.map((e) => (e.state === undefined || e.state === 'pending' ? e : { ...e, processed_at: sql<Date>`now()` })))
    .onConflict((oc) => oc.column('id').doNothing())
    .returning('id')
    .execute();
  return new Set(rows.map((r) => r.id));
}

/** Which of these event ids the inbox holds. */
export async function knownEventIds(db: Db | Trx, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db.selectFrom('stripe_events').select('id').where('id', 'in', ids).execute();
  return new Set(rows.map((r) => r.id));
}

/**
 * Which of these snapshot event ids a stored thin notification names (`snapshot_event`): the
 * same change, received through an event destination.
 */
export async function snapshotEventsNamed(db: Db | Trx, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await sql<{ id: string }>`
    select distinct payload->>'snapshot_event' as id from stripe_events
    where (payload->>'snapshot_event') is not null and (payload->>'snapshot_event') = any(${ids}::text[])`.execute(db);
  return new Set(rows.rows.map((r) => r.id));
}

/** Store one event; returns whether this call stored it (false: known already). */
export async function insertEvent(db: Db | Trx, event: NewStripeEvent): Promise<boolean> {
  return (await insertEvents(db, [event])).has(event.id);
}

export async function getEvent(db: Db | Trx, id: string): Promise<StripeEventRow | undefined> {
  return db.selectFrom('stripe_events').selectAll().where('id', '=', id).executeTakeFirst();
}

/**
 * Lock one inbox row for processing; skips it (undefined) when another transaction holds it or,
 * given `workerId`, while another worker's lease on it runs (it claimed the event, or is reading
 * Stripe for it).
 */
export async function lockEventForProcessing(trx: Trx, id: string, workerId?: string): Promise<StripeEventRow | undefined> {
  return (await lockEventsForProcessing(trx, [id], workerId))[0];
}

/**
 * Inbox states that need an operator's eye. Settling an event into one of them without an order
 * records the order it is about when the database can tell (see `event_order_ref`), so the
 * console shows the incident on that order.
 */
export const INCIDENT_STATES: readonly InboxState[] = ['failed', 'dead', 'unmatched'];

export type EventSettlement = {
  state: InboxState;
  outcome: string | null;
  orderId?: string | null;
  attempts: number;
  /** Try again this long after now (the database's clock, shared by every instance). */
  retryInMs?: number;
  lastError?: string | null;
  appendError?: AttemptError;
};

export async function settleEvent(trx: Db | Trx, id: string, s: EventSettlement): Promise<void> {
  await trx
    .updateTable('stripe_events')
    .set({
      state: s.state,
      outcome: s.outcome,
      attempts: s.attempts,
      ...(s.orderId !== undefined
        ? { order_id: s.orderId }
        : INCIDENT_STATES.includes(s.state)
          ? { order_id: sql<string>`coalesce(order_id, event_order_ref(payload, object_id, ${s.lastError ?? null}::text))` }
          : {}),
      ...(s.retryInMs !== undefined ? { next_attempt_at: sql<Date>`now() + ${`${Math.max(0, Math.round(s.retryInMs))} milliseconds`}::interval` } : {}),
      ...(s.lastError !== undefined ? { last_error: s.lastError } : {}),
      ...(s.appendError ? { errors: sql<string>`errors || ${JSON.stringify([s.appendError])}::jsonb` } : {}),
      processed_at: s.state === 'processed' ? sql`now()` : null,
      locked_until: null,
      locked_by: null,
    })
    .where('id', '=', id)
    .execute();
}

/**
 * Claim up to `limit` due events for this worker with a lease. `SKIP LOCKED` keeps workers
 * of several processes off each other's rows; an expired lease (a crashed worker) is claimable.
 */
export async function claimDueEvents(db: Db, opts: { limit: number; leaseMs: number; workerId: string }): Promise<string[]> {
  const rows = await sql<{ id: string }>`
    update stripe_events set locked_until = now() + ${`${opts.leaseMs} milliseconds`}::interval, locked_by = ${opts.workerId}
    where id in (
      select id from stripe_events
      where state in ('pending', 'failed') and next_attempt_at <= now()
        and (locked_until is null or locked_until < now())
      order by next_attempt_at
      limit ${opts.limit}
      for update skip locked
    )
    returning id`.execute(db);
  return rows.rows.map((r) => r.id);
}

/** Give back the leases a worker holds (graceful shutdown), so another process takes them at once. */
export async function releaseLeases(db: Db, workerId: string): Promise<number> {
  const r = await db
    .updateTable('stripe_events')
    .set({ locked_until: null, locked_by: null })
    .where('locked_by', '=', workerId)
    .executeTakeFirst();
  return Number(r.numUpdatedRows);
}

export async function listEventsForOrder(db: Db | Trx, orderId: string) {
  return db
    .selectFrom('stripe_events')
    .select(['id', 'type', 'stripe_created', 'received_at', 'state', 'outcome', 'attempts', 'last_error', 'errors', 'processed_at', 'replayed_at'])
    .where('order_id', '=', orderId)
    .orderBy('stripe_created')
    .orderBy('received_at')
    .execute();
}

/** Put events back in the queue now (a replay), with a fresh attempt count; their error history stays. */
export async function requeueEvents(trx: Db | Trx, ids: string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const r = await trx
    .updateTable('stripe_events')
    .set({ state: 'pending', attempts: 0, next_attempt_at: sql`now()`, locked_until: null, locked_by: null, outcome: null, processed_at: null, replayed_at: sql`now()` })
    .where('id', 'in', ids)
    .executeTakeFirst();
  return Number(r.numUpdatedRows);
}

export async function lockEvent(trx: Trx, id: string): Promise<StripeEventRow | undefined> {
  return trx.selectFrom('stripe_events').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
}

export async function lockDeadEventsSince(trx: Trx, since: Date, limit: number): Promise<string[]> {
  const rows = await trx
    .selectFrom('stripe_events')
    .select('id')
    .where('state', '=', 'dead')
    .where('received_at', '>=', since)
    .orderBy('received_at')
    .limit(limit)
    .forUpdate()
    .execute();
  return rows.map((r) => r.id);
}

export type EventFilter = {
  state?: InboxState | undefined;
  type?: string | undefined;
  orderId?: string | undefined;
  receivedFrom?: Date | undefined;
  receivedTo?: Date | undefined;
  cursor?: { receivedAt: string; id: string } | undefined;
  limit: number;
};

/** Inbox events, newest first, keyset-paginated on (received_at, id). */
export async function listEvents(db: Db, f: EventFilter) {
  let q = db
    .selectFrom('stripe_events')
    .select(['id', 'type', 'object_id', 'order_id', 'stripe_created', 'received_at', 'state', 'outcome', 'attempts', 'next_attempt_at', 'last_error', 'processed_at', sql<number>`jsonb_array_length(errors)`.as('error_count'), cursorTime('received_at').as('cursor_at')]);
  if (f.state) q = q.where('state', '=', f.state);
  if (f.type) q = q.where('type', '=', f.type);
  if (f.orderId) q = q.where('order_id', '=', f.orderId);
  if (f.receivedFrom) q = q.where('received_at', '>=', f.receivedFrom);
  if (f.receivedTo) q = q.where('received_at', '<', f.receivedTo);
  if (f.cursor) q = q.where(sql<boolean>`(received_at, id) < (${f.cursor.receivedAt}::timestamptz, ${f.cursor.id})`);
  return q.orderBy('received_at', 'desc').orderBy('id', 'desc').limit(f.limit).execute();
}

/** Inbox events received since a time, counted by state (a bulk replay's progress). */
export async function countEventsByStateSince(db: Db, since: Date): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom('stripe_events')
    .select(['state', sql<number>`count(*)::int`.as('n')])
    .where('received_at', '>=', since)
    .groupBy('state')
    .execute();
  return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
}

/** Lock several inbox rows at once for a batch; rows another transaction holds, or another worker's lease covers (`workerId`), are left out. */
export async function lockEventsForProcessing(trx: Trx, ids: string[], workerId?: string): Promise<StripeEventRow[]> {
  if (ids.length === 0) return [];
  let q = trx.selectFrom('stripe_events').selectAll().where('id', 'in', ids);
  if (workerId !== undefined) {
    q = q.where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', sql<Date>`now()`), eb('locked_by', '=', workerId)]));
  }
  return q.forUpdate().skipLocked().execute();
}

/** `settleEvent` for many events in one statement (a batch's outcomes, written before its commit). */
export async function settleEvents(trx: Db | Trx, settlements: (EventSettlement & { id: string })[]): Promise<void> {
  if (settlements.length === 0) return;
  const rows = settlements.map(
    (s) =>
      sql`(${s.id}, ${s.state}, ${s.outcome}, ${s.attempts}, ${s.orderId ?? null}, ${s.retryInMs === undefined ? null : Math.max(0, Math.round(s.retryInMs))}, ${s.lastError === undefined ? null : s.lastError}, ${s.lastError === undefined}, ${s.appendError ? JSON.stringify([s.appendError]) : null})`,
  );
  await sql`
    update stripe_events as e set
      state = v.state,
      outcome = v.outcome,
      attempts = v.attempts::int,
      order_id = coalesce(v.order_id::uuid, e.order_id,
        case when v.state in ('failed', 'dead', 'unmatched') then event_order_ref(e.payload, e.object_id, coalesce(v.last_error, e.last_error)) end),
      next_attempt_at = case when v.retry_ms is null then e.next_attempt_at else now() + v.retry_ms::int * interval '1 millisecond' end,
      last_error = case when v.keep_error::boolean then e.last_error else v.last_error end,
      errors = case when v.append is null then e.errors else e.errors || v.append::jsonb end,
      processed_at = case when v.state = 'processed' then now() else null end,
      locked_until = null,
      locked_by = null
    from (values ${sql.join(rows)}) as v(id, state, outcome, attempts, order_id, retry_ms, last_error, keep_error, append)
    where e.id = v.id`.execute(trx);
}
