import type { Kysely } from 'kysely';

/**
 * Whether a subscription's status is Settle's inference from its first paid invoice (`trialing`
 * when nothing was paid, else `active`) rather than what a Stripe subscription object said: the
 * inference gives way to Stripe's word even when that is a second older. Existing rows keep
 * `false` (their status stands as before).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('subscriptions').addColumn('status_inferred', 'boolean', (c) => c.notNull().defaultTo(false)).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('subscriptions').dropColumn('status_inferred').execute();
}
