import { sql } from 'kysely';
import type { Db } from '../database.js';

/** Stripe `created` of the newest event in the inbox (null when it is empty). */
export async function newestStoredEventTime(db: Db): Promise<Date | null> {
  const row = await db.selectFrom('stripe_events').select(sql<Date | null>`max(stripe_created)`.as('newest')).executeTakeFirst();
  return row?.newest ? new Date(row.newest) : null;
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
