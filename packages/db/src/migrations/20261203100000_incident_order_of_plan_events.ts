import { sql, type Kysely } from 'kysely';

const UUID = `'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'`;

/**
 * The order a failed, dead or unmatched event belongs to (the incident's order, shown on the order
 * and in "Needs attention") is also found for a plan's events: a subscription (by its id, or an
 * invoice's `parent.subscription_details.subscription` / pre-basil `subscription`), the metadata
 * Checkout gave the subscription (copied to its invoices), and an invoice Settle recorded (an
 * invoice payment names its invoice). Before, a dead `invoice.paid` had no order: an operator
 * could not find it from the order its customer paid for.
 */
/** The ways the first version (20261201075000) found an incident's order: kept as they were. */
const FIRST_WAYS = `o.id = (case when payload #>> '{data,object,metadata,orderId}' ~* ${UUID}
                         then (payload #>> '{data,object,metadata,orderId}')::uuid end)
         or o.id = (substring(error from '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}'))::uuid
         or o.checkout_session_id = object_id
         or o.payment_intent_id = object_id
         or o.payment_intent_id = payload #>> '{data,object,payment_intent}'`;

/** A plan's events: the subscription's metadata, the subscription, an invoice Settle recorded. */
const PLAN_WAYS = `o.id = (case when payload #>> '{data,object,parent,subscription_details,metadata,orderId}' ~* ${UUID}
                         then (payload #>> '{data,object,parent,subscription_details,metadata,orderId}')::uuid end)
         or o.id = (select s.order_id from subscriptions s
                    where s.id = coalesce(payload #>> '{data,object,parent,subscription_details,subscription}',
                                          payload #>> '{data,object,subscription}',
                                          case when object_id like 'sub\\_%' then object_id end))
         or o.id = (select i.order_id from invoices i
                    where i.id = coalesce(payload #>> '{data,object,invoice}', case when object_id like 'in\\_%' then object_id end))`;

const eventOrderRef = (ways: string) => sql`
    create or replace function event_order_ref(payload jsonb, object_id text, error text) returns uuid
    language sql stable as $$
      select o.id from orders o
      where ${sql.raw(ways)}
      limit 1
    $$`;

export async function up(db: Kysely<any>): Promise<void> {
  await eventOrderRef(`${FIRST_WAYS}
         or ${PLAN_WAYS}`).execute(db);
  await sql`
    update stripe_events set order_id = event_order_ref(payload, object_id, last_error)
    where order_id is null and state in ('failed', 'dead', 'unmatched')`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await eventOrderRef(FIRST_WAYS).execute(db);
}
