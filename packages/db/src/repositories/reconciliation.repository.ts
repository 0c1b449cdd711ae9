import { sql } from 'kysely';
import type { Db, Trx } from '../database.js';

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

/** Unmatched events of the last week, oldest first: candidates for a requeue once their order exists. */
export async function listRecentUnmatchedEvents(db: Db, limit: number): Promise<{ id: string; payload: unknown; last_error: string | null }[]> {
  return db
    .selectFrom('stripe_events')
    .select(['id', 'payload', 'last_error'])
    .where('state', '=', 'unmatched')
    .where('received_at', '>', sql<Date>`now() - interval '7 days'`)
    .orderBy('received_at')
    .limit(limit)
    .execute();
}
