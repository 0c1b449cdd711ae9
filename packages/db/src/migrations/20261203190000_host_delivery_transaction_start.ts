import { sql, type Kysely } from 'kysely';

/**
 * A transaction's host messages are merged by its id (`txid_current()`), and transaction ids start
 * over on another cluster (dump and restore, logical replication, PGlite to PostgreSQL): a new
 * change could land on an old, already delivered row with the same id, user and key and never be
 * sent, or (key taken) fail its transaction. The transaction's start time, which every row it
 * writes carries as `created_at` (`now()`), joins the key: an old row never matches both.
 * The outbox is kept small by its retention, so rebuilding the index is short.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`set local statement_timeout = 0`.execute(db);
  await sql`alter table host_deliveries drop constraint host_deliveries_transaction_key`.execute(db);
  await sql`alter table host_deliveries add constraint host_deliveries_transaction_key unique (transaction_id, user_id, coalesce_key, created_at)`.execute(db);
}

/** Fails if rows of two clusters' transactions now share an id, user and key (the case `up` allows). */
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table host_deliveries drop constraint host_deliveries_transaction_key`.execute(db);
  await sql`alter table host_deliveries add constraint host_deliveries_transaction_key unique (transaction_id, user_id, coalesce_key)`.execute(db);
}
