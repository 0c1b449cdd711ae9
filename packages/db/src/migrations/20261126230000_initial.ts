import { sql, type Kysely } from 'kysely';

/** Foundation: the Stripe event inbox, orders and their audit trail, grants, ledger, invoices, customers. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('orders')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('product_id', 'text', (c) => c.notNull())
    .addColumn('quantity', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('amount', 'bigint', (c) => c.notNull().check(sql`amount >= 0`))
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('handler', 'text', (c) => c.notNull().check(sql`handler in ('legacy', 'new')`))
    .addColumn('checkout_session_id', 'text', (c) => c.unique())
    .addColumn('payment_intent_id', 'text', (c) => c.unique())
    .addColumn('stripe_customer_id', 'text')
    .addColumn('status_stripe_at', 'timestamptz')
    .addColumn('paid_at', 'timestamptz')
    .addColumn('amount_refunded', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('dispute_id', 'text')
    .addColumn('dispute_status', 'text')
    .addColumn('status_before_dispute', 'text')
    .addColumn('review_reason', 'text')
    .addColumn('failure_reason', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('orders_user_created_idx').on('orders').columns(['user_id', 'created_at', 'id']).execute();
  await db.schema.createIndex('orders_status_updated_idx').on('orders').columns(['status', 'updated_at']).execute();

  await db.schema
    .createTable('stripe_events')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('object_id', 'text')
    .addColumn('order_id', 'uuid')
    .addColumn('stripe_created', 'timestamptz', (c) => c.notNull())
    .addColumn('api_version', 'text')
    .addColumn('livemode', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('payload', 'jsonb', (c) => c.notNull())
    .addColumn('received_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('state', 'text', (c) =>
      c.notNull().defaultTo('pending').check(sql`state in ('pending', 'processed', 'failed', 'dead', 'unmatched')`),
    )
    .addColumn('outcome', 'text')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('locked_until', 'timestamptz')
    .addColumn('locked_by', 'text')
    .addColumn('last_error', 'text')
    .addColumn('errors', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('processed_at', 'timestamptz')
    .execute();
  await sql`create index stripe_events_due_idx on stripe_events (next_attempt_at) where state in ('pending', 'failed')`.execute(db);
  await db.schema.createIndex('stripe_events_order_idx').on('stripe_events').columns(['order_id', 'stripe_created']).execute();
  await db.schema.createIndex('stripe_events_state_received_idx').on('stripe_events').columns(['state', 'received_at', 'id']).execute();
  await db.schema.createIndex('stripe_events_object_idx').on('stripe_events').column('object_id').execute();

  await db.schema
    .createTable('order_transitions')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('order_id', 'uuid', (c) => c.notNull().references('orders.id'))
    .addColumn('from_status', 'text')
    .addColumn('to_status', 'text', (c) => c.notNull())
    .addColumn('cause', 'text', (c) => c.notNull().check(sql`cause in ('stripe_event', 'admin', 'reconciler', 'system')`))
    .addColumn('event_id', 'text')
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('stripe_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('order_transitions_order_idx').on('order_transitions').columns(['order_id', 'id']).execute();

  await db.schema
    .createTable('grants')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('order_id', 'uuid', (c) => c.notNull().references('orders.id'))
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('credits', 'plan')`))
    .addColumn('credits', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('plan', 'text')
    .addColumn('credits_revoked', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('event_id', 'text')
    .addColumn('granted_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('revoked_at', 'timestamptz')
    // The last line of defence against granting twice: one grant of a kind per order.
    .addUniqueConstraint('grants_order_kind_key', ['order_id', 'kind'])
    .execute();
  await db.schema.createIndex('grants_user_idx').on('grants').column('user_id').execute();

  await db.schema
    .createTable('credit_ledger')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('order_id', 'uuid', (c) => c.references('orders.id'))
    .addColumn('delta', 'integer', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('balance_after', 'bigint', (c) => c.notNull())
    .addColumn('debt_after', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('credit_ledger_user_idx').on('credit_ledger').columns(['user_id', 'id']).execute();

  await db.schema
    .createTable('entitlements')
    .addColumn('user_id', 'text', (c) => c.primaryKey())
    .addColumn('credits', 'bigint', (c) => c.notNull().defaultTo(0).check(sql`credits >= 0`))
    .addColumn('credit_debt', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('plan', 'text')
    .addColumn('subscription_status', 'text')
    .addColumn('plan_period_end', 'timestamptz')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('invoices')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('order_id', 'uuid', (c) => c.references('orders.id'))
    .addColumn('number', 'text')
    .addColumn('status', 'text')
    .addColumn('hosted_invoice_url', 'text')
    .addColumn('invoice_pdf', 'text')
    .addColumn('amount_due', 'bigint', (c) => c.notNull())
    .addColumn('amount_paid', 'bigint', (c) => c.notNull())
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('subscription_id', 'text')
    .addColumn('stripe_created', 'timestamptz', (c) => c.notNull())
    .addColumn('finalized_at', 'timestamptz')
    .addColumn('paid_at', 'timestamptz')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('invoices_order_idx').on('invoices').column('order_id').execute();

  await db.schema
    .createTable('stripe_customers')
    .addColumn('user_id', 'text', (c) => c.primaryKey())
    .addColumn('stripe_customer_id', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['stripe_customers', 'invoices', 'entitlements', 'credit_ledger', 'grants', 'order_transitions', 'stripe_events', 'orders']) {
    await db.schema.dropTable(table).execute();
  }
}
