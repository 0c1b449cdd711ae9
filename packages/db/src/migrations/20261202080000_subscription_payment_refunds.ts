import { sql, type Kysely } from 'kysely';

/**
 * Each refund of a subscription payment, so a refund that fails or is canceled gives its amount
 * back (and the plan with it), as an order's refunds do. Existing payments start with none known.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table subscription_payments add column refunds jsonb not null default '[]'::jsonb`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table subscription_payments drop column refunds`.execute(db);
}
