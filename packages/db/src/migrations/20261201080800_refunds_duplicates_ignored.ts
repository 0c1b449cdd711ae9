import { sql, type Kysely } from 'kysely';

/**
 * Refunds as records of their own, duplicate payments recorded beside their order, and the
 * inbox state `ignored` for events about Stripe objects Settle did not create.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table stripe_events drop constraint stripe_events_state_check`.execute(db);
  await sql`alter table stripe_events add constraint stripe_events_state_check check (state in ('pending', 'processed', 'failed', 'dead', 'unmatched', 'ignored'))`.execute(db);

  await db.schema
    .createTable('refunds')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('order_id', 'uuid', (c) => c.notNull().references('orders.id'))
    .addColumn('payment_intent_id', 'text', (c) => c.notNull())
    .addColumn('amount', 'bigint', (c) => c.notNull().check(sql`amount >= 0`))
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('pending', 'requires_action', 'succeeded', 'failed', 'canceled')`))
    .addColumn('reason', 'text')
    .addColumn('failure_reason', 'text')
    .addColumn('stripe_created', 'timestamptz', (c) => c.notNull())
    // Stripe time at which a failed or canceled refund was taken off the order's refunded total.
    .addColumn('undone_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('refunds_order_idx').on('refunds').columns(['order_id', 'stripe_created']).execute();

  await db.schema
    .createTable('duplicate_payments')
    .addColumn('payment_intent_id', 'text', (c) => c.primaryKey())
    .addColumn('order_id', 'uuid', (c) => c.notNull().references('orders.id'))
    .addColumn('amount', 'bigint', (c) => c.notNull().check(sql`amount >= 0`))
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('amount_refunded', 'bigint', (c) => c.notNull().defaultTo(0).check(sql`amount_refunded >= 0`))
    // Stripe time of the payment.
    .addColumn('paid_at', 'timestamptz', (c) => c.notNull())
    .addColumn('event_id', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('duplicate_payments_order_idx').on('duplicate_payments').columns(['order_id', 'paid_at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('duplicate_payments').execute();
  await db.schema.dropTable('refunds').execute();
  await sql`update stripe_events set state = 'processed' where state = 'ignored'`.execute(db);
  await sql`alter table stripe_events drop constraint stripe_events_state_check`.execute(db);
  await sql`alter table stripe_events add constraint stripe_events_state_check check (state in ('pending', 'processed', 'failed', 'dead', 'unmatched'))`.execute(db);
}
