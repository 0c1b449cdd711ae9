import { sql, type Kysely } from 'kysely';

/**
 * Stripe's `cancel_at` on a subscription: a cancellation scheduled at any time, which may fall
 * before the period's end (Stripe then ends the subscription there, prorated). The plan's end and
 * the reconciler's stale check read the earlier of the two, so the check claims by that
 * expression. Existing rows start without it (null): the next event or reconciliation of each
 * sets it.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('subscriptions').addColumn('cancel_at', 'timestamptz').execute();
  await sql`create index subscriptions_status_effective_end_idx on subscriptions (status, (least(cancel_at, current_period_end)))`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists subscriptions_status_effective_end_idx`.execute(db);
  await db.schema.alterTable('subscriptions').dropColumn('cancel_at').execute();
}
