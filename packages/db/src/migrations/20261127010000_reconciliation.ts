import { sql, type Kysely } from 'kysely';

/** The janitor: when each order was last compared with Stripe, and a record of every run. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('orders').addColumn('last_reconciled_at', 'timestamptz').execute();
  await db.schema
    .createTable('reconciliation_runs')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('trigger', 'text', (c) => c.notNull())
    .addColumn('started_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('finished_at', 'timestamptz')
    .addColumn('checked', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('disagreements', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('errors', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('requeued_events', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.createIndex('reconciliation_runs_started_idx').on('reconciliation_runs').column('started_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('reconciliation_runs').execute();
  await db.schema.alterTable('orders').dropColumn('last_reconciled_at').execute();
}
