import { sql, type Kysely } from 'kysely';

/**
 * What an order grants, as its checkout's catalogue said (`{kind, credits, partialRefund}` or
 * `{kind, plan}`): a refund, dispute or override of the order later takes back or gives by what
 * was sold, not by what the catalogue says by then (a pack resold with more credits, a changed
 * refund policy, a product retired). Orders from before keep null and are read by the catalogue,
 * as they were.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table orders add column grant_spec jsonb`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table orders drop column grant_spec`.execute(db);
}
