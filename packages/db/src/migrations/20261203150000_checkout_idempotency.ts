import { sql, type Kysely } from 'kysely';

/**
 * `checkout.create {idempotencyKey}`: a client's retry of the same checkout gets the order and
 * Checkout Session of its first call instead of a second order. The key is the caller's, unique
 * per user; the session's URL is kept so a repeat answers without asking Stripe.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table orders add column if not exists checkout_key text, add column if not exists checkout_url text`.execute(db);
  await sql`create unique index if not exists orders_checkout_key_idx on orders (user_id, checkout_key) where checkout_key is not null`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists orders_checkout_key_idx`.execute(db);
  await sql`alter table orders drop column if exists checkout_url, drop column if exists checkout_key`.execute(db);
}
