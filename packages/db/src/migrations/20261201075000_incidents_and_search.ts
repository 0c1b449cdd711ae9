import { sql, type Kysely } from 'kysely';

/**
 * Incidents linked to orders, and substring search for the console.
 *
 * - `event_order_ref(...)`: the order a Stripe event is about, from Settle's `metadata.orderId`,
 *   the Checkout Session or PaymentIntent it names, or an order id its error message names.
 *   Processing records the order on success; a failed, dead or unmatched event gets it from here,
 *   so the console can show the order beside the error and flag the order.
 * - `replayed_at` on events: when an admin last put the event back in the queue. Processing
 *   latency leaves replayed events out (their "latency" is how long the dead letter waited).
 * - `order_search_text(...)` with a trigram index: e-mail, ids and user id found by any part
 *   ("alice", "pi_3Q") in index time at a million orders.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create extension if not exists pg_trgm`.execute(db);
  await sql`
    create function order_search_text(id uuid, user_id text, email text, session text, intent text, customer text) returns text
    language sql immutable parallel safe as $$
      select lower(id::text || ' ' || user_id || ' ' || coalesce(email, '') || ' ' || coalesce(session, '') || ' ' || coalesce(intent, '') || ' ' || coalesce(customer, ''))
    $$`.execute(db);
  await sql`create index orders_search_trgm_idx on orders using gin (order_search_text(id, user_id, customer_email, checkout_session_id, payment_intent_id, stripe_customer_id) gin_trgm_ops)`.execute(db);

  await sql`
    create function event_order_ref(payload jsonb, object_id text, error text) returns uuid
    language sql stable as $$
      select o.id from orders o
      where o.id = (case when payload #>> '{data,object,metadata,orderId}' ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                         then (payload #>> '{data,object,metadata,orderId}')::uuid end)
         or o.id = (substring(error from '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}'))::uuid
         or o.checkout_session_id = object_id
         or o.payment_intent_id = object_id
         or o.payment_intent_id = payload #>> '{data,object,payment_intent}'
      limit 1
    $$`.execute(db);
  await db.schema.alterTable('stripe_events').addColumn('replayed_at', 'timestamptz').execute();
  // Events needing an operator, per order: the order list's incident badge and filter.
  await sql`create index stripe_events_incident_order_idx on stripe_events (order_id) where state in ('failed', 'dead', 'unmatched')`.execute(db);
  await sql`
    update stripe_events set order_id = event_order_ref(payload, object_id, last_error)
    where order_id is null and state in ('failed', 'dead', 'unmatched')`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop index stripe_events_incident_order_idx`.execute(db);
  await db.schema.alterTable('stripe_events').dropColumn('replayed_at').execute();
  await sql`drop function event_order_ref(jsonb, text, text)`.execute(db);
  await sql`drop index orders_search_trgm_idx`.execute(db);
  await sql`drop function order_search_text(uuid, text, text, text, text, text)`.execute(db);
}
