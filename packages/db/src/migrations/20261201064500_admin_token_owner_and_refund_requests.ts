import { sql, type Kysely } from 'kysely';

/**
 * Admin API tokens belong to an account (they stop working when it is disabled), and every
 * console refund is a row keyed by its request, written with its audit row before Stripe is asked
 * and settled with it after, so a repeated request refunds once and is audited once.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('admin_tokens')
    .addColumn('admin_id', 'bigint', (c) => c.references('admin_users.id').onDelete('cascade'))
    .execute();

  await db.schema
    .createTable('admin_refund_requests')
    // The idempotency key sent to Stripe: one per refund an operator means.
    .addColumn('request_key', 'text', (c) => c.primaryKey())
    .addColumn('order_id', 'uuid', (c) => c.notNull().references('orders.id'))
    .addColumn('payment_intent_id', 'text', (c) => c.notNull())
    .addColumn('amount', 'bigint', (c) => c.notNull())
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('requested', 'succeeded', 'failed')`))
    .addColumn('stripe_refund_id', 'text')
    .addColumn('stripe_status', 'text')
    .addColumn('error', 'text')
    .addColumn('audit_id', 'bigint', (c) => c.references('admin_audit.id'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('admin_refund_requests_order_idx').on('admin_refund_requests').column('order_id').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('admin_refund_requests').execute();
  await db.schema.alterTable('admin_tokens').dropColumn('admin_id').execute();
}
