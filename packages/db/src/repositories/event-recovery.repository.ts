import { sql } from 'kysely';
import { INBOX_STATES } from '@settle/payments-core';
import type { Db } from '../database.js';

/** How many of the latest receipts of each inbox state are looked at. */
const RECENT_PER_STATE = 200;
/** Stripe's clock and the database's may differ a little; a test clock's events are dated far ahead. */
const FUTURE_SLACK = '5 minutes';

/**
 * Stripe `created` of the newest event in the inbox (null when it is empty), not counting events
 * dated in the future (a Stripe test clock's simulated time). Read from the latest receipts of each
 * inbox state through the (state, received_at) index, not from the whole inbox: the newest events
 * are the last received, and should a backlog of older ones have been received since, the answer
 * is older than the truth, so a window starting from it only reaches further back.
 */
export async function newestStoredEventTime(db: Db): Promise<Date | null> {
  const recent = INBOX_STATES.map(
    (state) => sql`(select stripe_created from stripe_events where state = ${state} order by received_at desc limit ${RECENT_PER_STATE})`,
  );
  const r = await sql<{ newest: Date | null }>`
    select max(stripe_created) as newest from (${sql.join(recent, sql` union all `)}) as latest
    where stripe_created <= now() + ${FUTURE_SLACK}::interval`.execute(db);
  const newest = r.rows[0]?.newest;
  return newest ? new Date(newest) : null;
}

/** Events received since `since` per API version other than `pinned` (thin notifications have none). */
export async function countEventsInOtherApiVersions(db: Db, pinned: string, since: Date): Promise<{ apiVersion: string; count: number }[]> {
  const rows = await db
    .selectFrom('stripe_events')
    .select(['api_version', sql<number>`count(*)::int`.as('n')])
    .where('received_at', '>=', since)
    .where('api_version', 'is not', null)
    .where('api_version', '!=', pinned)
    .groupBy('api_version')
    .orderBy('api_version')
    .execute();
  return rows.map((r) => ({ apiVersion: r.api_version!, count: Number(r.n) }));
}
