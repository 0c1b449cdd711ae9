import { sql, type Kysely } from 'kysely';

/**
 * Thin notifications name the snapshot event they stand for (`snapshot_event`): recovery looks
 * them up by it, so that with an event destination the snapshot events Stripe's Events API lists
 * are known, not stored and processed again as missed. Only notifications are indexed.
 * `if not exists`, so a large inbox can build it beforehand with `create index concurrently`.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`set local statement_timeout = 0`.execute(db);
  await sql`create index if not exists stripe_events_snapshot_event_idx on stripe_events ((payload->>'snapshot_event')) where (payload->>'snapshot_event') is not null`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists stripe_events_snapshot_event_idx`.execute(db);
}
