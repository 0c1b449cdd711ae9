import { sql, type Kysely } from 'kysely';

const STATUSES = `'trialing', 'active', 'cancel_at_period_end', 'past_due', 'unpaid', 'paused', 'incomplete', 'canceled'`;
const OLD_STATUSES = `'incomplete', 'active', 'cancel_at_period_end', 'past_due', 'paused', 'canceled'`;

/**
 * Subscriptions that are right about money: `trialing` and `unpaid` as statuses of their own, the
 * plan following the catalogue price (with the price waiting for review when unknown), every
 * invoice as a payment of its subscription (with its money, refunds and dispute), and one
 * timeline of what happened to a subscription and why.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table subscriptions drop constraint if exists subscriptions_status_check`.execute(db);
  await sql.raw(`alter table subscriptions add constraint subscriptions_status_check check (status in (${STATUSES}))`).execute(db);
  await db.schema
    .alterTable('subscriptions')
    .addColumn('plan_stripe_at', 'timestamptz')
    .addColumn('unknown_price_id', 'text')
    .addColumn('trial_end', 'timestamptz')
    .addColumn('latest_invoice_id', 'text')
    .addColumn('last_reconciled_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('subscriptions_status_period_idx').on('subscriptions').columns(['status', 'current_period_end']).execute();
  await db.schema.createIndex('subscriptions_user_idx').on('subscriptions').columns(['user_id', 'created_at']).execute();

  await db.schema
    .createTable('subscription_payments')
    .addColumn('invoice_id', 'text', (c) => c.primaryKey())
    .addColumn('subscription_id', 'text', (c) => c.notNull())
    .addColumn('billing_reason', 'text')
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('draft', 'open', 'uncollectible', 'void', 'paid')`))
    .addColumn('number', 'text')
    .addColumn('hosted_invoice_url', 'text')
    .addColumn('invoice_pdf', 'text')
    .addColumn('amount_due', 'bigint', (c) => c.notNull().check(sql`amount_due >= 0`))
    .addColumn('amount_paid', 'bigint', (c) => c.notNull().check(sql`amount_paid >= 0`))
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('period_start', 'timestamptz')
    .addColumn('period_end', 'timestamptz')
    .addColumn('price_id', 'text')
    .addColumn('payment_intent_id', 'text')
    .addColumn('charge_id', 'text')
    .addColumn('amount_refunded', 'bigint', (c) => c.notNull().defaultTo(0).check(sql`amount_refunded >= 0`))
    .addColumn('dispute_id', 'text')
    .addColumn('dispute_status', 'text', (c) => c.check(sql`dispute_status in ('open', 'won', 'lost')`))
    .addColumn('attempt_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('stripe_created', 'timestamptz', (c) => c.notNull())
    .addColumn('paid_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('subscription_payments_subscription_idx').on('subscription_payments').columns(['subscription_id', 'stripe_created']).execute();
  await sql`create index subscription_payments_payment_intent_idx on subscription_payments (payment_intent_id) where payment_intent_id is not null`.execute(db);
  await sql`create index subscription_payments_charge_idx on subscription_payments (charge_id) where charge_id is not null`.execute(db);

  await db.schema
    .createTable('subscription_history')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('subscription_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('status', 'plan', 'payment', 'review', 'notice')`))
    .addColumn('from_status', 'text')
    .addColumn('to_status', 'text')
    .addColumn('from_plan', 'text')
    .addColumn('to_plan', 'text')
    .addColumn('invoice_id', 'text')
    .addColumn('cause', 'text', (c) => c.notNull().check(sql`cause in ('stripe_event', 'admin', 'reconciler', 'system')`))
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('event_id', 'text')
    .addColumn('stripe_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('subscription_history_subscription_idx').on('subscription_history').columns(['subscription_id', 'id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('subscription_history').execute();
  await db.schema.dropTable('subscription_payments').execute();
  await db.schema.dropIndex('subscriptions_user_idx').execute();
  await db.schema.dropIndex('subscriptions_status_period_idx').execute();
  await db.schema
    .alterTable('subscriptions')
    .dropColumn('plan_stripe_at')
    .dropColumn('unknown_price_id')
    .dropColumn('trial_end')
    .dropColumn('latest_invoice_id')
    .dropColumn('last_reconciled_at')
    .execute();
  await sql`update subscriptions set status = case status when 'trialing' then 'active' when 'unpaid' then 'past_due' else status end`.execute(db);
  await sql`alter table subscriptions drop constraint if exists subscriptions_status_check`.execute(db);
  await sql.raw(`alter table subscriptions add constraint subscriptions_status_check check (status in (${OLD_STATUSES}))`).execute(db);
}
