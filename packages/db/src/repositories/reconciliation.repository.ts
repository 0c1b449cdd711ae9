import { sql } from 'kysely';
import type { Db, Trx } from '../database.js';
import { isOrderId } from './order.repository.js';

export type ReconciliationCounts = { checked: number; disagreements: number; errors: number; requeuedEvents: number };

/** Start a reconciliation run's record; finished by `finishReconciliationRun`. */
export async function startReconciliationRun(db: Db, trigger: string): Promise<number> {
  const run = await db.insertInto('reconciliation_runs').values({ trigger, finished_at: null }).returning('id').executeTakeFirstOrThrow();
  return Number(run.id);
}

export async function finishReconciliationRun(db: Db, id: number, c: ReconciliationCounts): Promise<void> {
  await db
    .updateTable('reconciliation_runs')
    .set({ finished_at: sql`now()`, checked: c.checked, disagreements: c.disagreements, errors: c.errors, requeued_events: c.requeuedEvents })
    .where('id', '=', id)
    .execute();
}

/** The last finished run and the totals of every run (every instance) over the last 24 hours. */
export async function reconciliationDrift(db: Db) {
  const last = await db.selectFrom('reconciliation_runs').selectAll().where('finished_at', 'is not', null).orderBy('id', 'desc').executeTakeFirst();
  const day = await sql<{ checked: number; disagreements: number }>`
    select coalesce(sum(checked), 0)::int as checked, coalesce(sum(disagreements), 0)::int as disagreements
    from reconciliation_runs where started_at > now() - interval '24 hours'`.execute(db);
  return { last, checked24h: Number(day.rows[0]?.checked ?? 0), disagreements24h: Number(day.rows[0]?.disagreements ?? 0) };
}

export async function markOrderReconciled(trx: Trx, orderId: string): Promise<void> {
  await trx.updateTable('orders').set({ last_reconciled_at: sql`now()` }).where('id', '=', orderId).execute();
}

/**
 * Ids of the unmatched events of the last week, oldest first: candidates for a requeue once their
 * order exists. All of them, not the oldest few: events whose order never comes (another
 * deployment's, on the same Stripe account) must not hide newer ones. Only ids, read once (index
 * only): the caller reads the events a page at a time by primary key (`findUnmatchedEvents`), so a
 * page costs the same however many events come before it, whatever the planner's statistics.
 */
export async function listRecentUnmatchedEventIds(db: Db): Promise<string[]> {
  const rows = await db
    .selectFrom('stripe_events')
    .select('id')
    .where('state', '=', 'unmatched')
    .where('received_at', '>', sql<Date>`now() - interval '7 days'`)
    .orderBy('received_at')
    .orderBy('id')
    .execute();
  return rows.map((r) => r.id);
}

/**
 * These events, those still unmatched (one may have been replayed or processed since its id was
 * read). The state is checked here, not in SQL: `state = 'unmatched'` beside the ids lets the
 * planner walk the (state, received_at, id) index over every unmatched event for each page.
 */
export async function findUnmatchedEvents(db: Db, ids: string[]): Promise<{ id: string; payload: unknown; last_error: string | null }[]> {
  if (ids.length === 0) return [];
  const rows = await db.selectFrom('stripe_events').select(['id', 'payload', 'last_error', 'state']).where('id', 'in', ids).execute();
  return rows.filter((r) => r.state === 'unmatched').map((r) => ({ id: r.id, payload: r.payload, last_error: r.last_error }));
}

/**
 * Which of these ids Settle knows, in one statement: as an order's id, Checkout Session or
 * PaymentIntent, a subscription, a subscription payment's invoice or PaymentIntent, or a
 * duplicate payment. Invariant: these are every place the order lookup of an unmatched event
 * (`lockTarget` in the API) looks, so an event naming none of the known ids cannot match and
 * needs no lookup of its own.
 */
export async function knownOrderRefs(db: Db, ids: string[]): Promise<Set<string>> {
  const refs = [...new Set(ids)];
  if (refs.length === 0) return new Set();
  const { rows } = await sql<{ ref: string }>`
    select v.ref from unnest(${refs.filter(isOrderId)}::text[]) as v(ref)
    where exists (select 1 from orders o where o.id = v.ref::uuid)
    union all
    select v.ref from unnest(${refs}::text[]) as v(ref)
    where exists (select 1 from orders o where o.checkout_session_id = v.ref)
       or exists (select 1 from orders o where o.payment_intent_id = v.ref)
       or exists (select 1 from subscriptions s where s.id = v.ref)
       or exists (select 1 from subscription_payments p where p.invoice_id = v.ref)
       or exists (select 1 from subscription_payments p where p.payment_intent_id = v.ref)
       or exists (select 1 from duplicate_payments d where d.payment_intent_id = v.ref)`.execute(db);
  return new Set(rows.map((r) => r.ref));
}
