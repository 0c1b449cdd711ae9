import { sql, type Kysely } from 'kysely';

/**
 * A dispute Stripe prevented (dispute prevention, API 2025-08-27.basil) is recorded as
 * `prevented`, no longer as `won`: it never became a chargeback, and any money the customer got
 * back comes as a refund. Orders keep the status as free text; a plan's payments check it.
 * Rows recorded as `won` before stay so (which prevention they were is not known here).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table subscription_payments drop constraint subscription_payments_dispute_status_check`.execute(db);
  await sql`alter table subscription_payments add constraint subscription_payments_dispute_status_check check (dispute_status in ('open', 'won', 'lost', 'prevented'))`.execute(db);
}

/** Prevented disputes read as won again (what Settle recorded before). */
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`update subscription_payments set dispute_status = 'won' where dispute_status = 'prevented'`.execute(db);
  await sql`update orders set dispute_status = 'won' where dispute_status = 'prevented'`.execute(db);
  await sql`alter table subscription_payments drop constraint subscription_payments_dispute_status_check`.execute(db);
  await sql`alter table subscription_payments add constraint subscription_payments_dispute_status_check check (dispute_status in ('open', 'won', 'lost'))`.execute(db);
}
