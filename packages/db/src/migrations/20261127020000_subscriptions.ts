import { sql, type Kysely } from 'kysely';

/** Subscriptions: an order's Checkout mode, and one row per Stripe subscription with its order-proof status. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('orders')
    .addColumn('mode', 'text', (c) => c.notNull().defaultTo('payment').check(sql`mode in ('payment', 'subscription')`))
    .execute();
  await db.schema
    .createTable('subscriptions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('order_id', 'uuid', (c) => c.references('orders.id'))
    .addColumn('product_id', 'text', (c) => c.notNull())
    .addColumn('plan', 'text')
    .addColumn('stripe_customer_id', 'text')
    .addColumn('stripe_price_id', 'text')
    .addColumn('stripe_status', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) =>
      c.notNull().check(sql`status in ('incomplete', 'active', 'cancel_at_period_end', 'past_due', 'paused', 'canceled')`),
    )
    .addColumn('current_period_end', 'timestamptz')
    .addColumn('cancel_at_period_end', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('status_stripe_at', 'timestamptz', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('subscriptions_user_plan_idx').on('subscriptions').columns(['user_id', 'plan']).execute();
  await db.schema.createIndex('subscriptions_order_idx').on('subscriptions').column('order_id').execute();
  await db.schema.createIndex('invoices_subscription_idx').on('invoices').column('subscription_id').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('invoices_subscription_idx').execute();
  await db.schema.dropTable('subscriptions').execute();
  await db.schema.alterTable('orders').dropColumn('mode').execute();
}
