import { sql, type Kysely } from 'kysely';

/**
 * Console search: one trigram index per kind of text instead of one over everything.
 *
 * pg_trgm splits words at `_`, so a fragment like "user_50" asks for words starting with "50".
 * Random hex ids (order id, Checkout Session, PaymentIntent, customer) hold such words in a few
 * percent of all orders, so over the combined text that fragment found ~32,000 candidates at a
 * million orders for 2,220 matches, and fetching them took seconds. Apart, the user id index
 * finds exactly the 2,220 and the ids no candidates at all.
 *
 * The pending lists keep their default size (4 MB). Every search reads them whole (~420 pages,
 * ~10 ms, after a burst of orders, until a vacuum), but at 256 kB inserting orders took 2.3 times
 * as long, and every non-HOT update of an order adds its entries again.
 */
export async function up(db: Kysely<any>): Promise<void> {
  // The three builds took 2 min at a million orders on a busy two-core VM (orders are locked
  // against writes meanwhile): longer than the pool's statement timeout. The migration runs in
  // one transaction; `local` ends with it. A large database can build them beforehand with
  // `create index concurrently` under the same names (README, "Upgrading"): they are kept.
  await sql`set local statement_timeout = 0`.execute(db);
  await sql`
    create or replace function order_ids_text(id uuid, session text, intent text, customer text) returns text
    language sql immutable parallel safe as $$
      select lower(id::text || ' ' || coalesce(session, '') || ' ' || coalesce(intent, '') || ' ' || coalesce(customer, ''))
    $$`.execute(db);
  await sql`create index if not exists orders_ids_trgm_idx on orders using gin (order_ids_text(id, checkout_session_id, payment_intent_id, stripe_customer_id) gin_trgm_ops)`.execute(db);
  await sql`create index if not exists orders_user_trgm_idx on orders using gin (lower(user_id) gin_trgm_ops)`.execute(db);
  await sql`create index if not exists orders_email_trgm_idx on orders using gin (lower(customer_email) gin_trgm_ops)`.execute(db);
  await sql`drop index orders_search_trgm_idx`.execute(db);
  await sql`drop function order_search_text(uuid, text, text, text, text, text)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    create function order_search_text(id uuid, user_id text, email text, session text, intent text, customer text) returns text
    language sql immutable parallel safe as $$
      select lower(id::text || ' ' || user_id || ' ' || coalesce(email, '') || ' ' || coalesce(session, '') || ' ' || coalesce(intent, '') || ' ' || coalesce(customer, ''))
    $$`.execute(db);
  await sql`create index orders_search_trgm_idx on orders using gin (order_search_text(id, user_id, customer_email, checkout_session_id, payment_intent_id, stripe_customer_id) gin_trgm_ops)`.execute(db);
  await sql`drop index orders_email_trgm_idx`.execute(db);
  await sql`drop index orders_user_trgm_idx`.execute(db);
  await sql`drop index orders_ids_trgm_idx`.execute(db);
  await sql`drop function order_ids_text(uuid, text, text, text)`.execute(db);
}
