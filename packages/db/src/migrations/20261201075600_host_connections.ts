import { sql, type Kysely } from 'kysely';

/**
 * What connects Settle to the host app: credit spends keyed by the host's idempotency key (the
 * ledger entry is the spend, unique per user and key), and the outbox of webhooks to the host.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('credit_ledger').addColumn('idempotency_key', 'text').execute();
  await db.schema.alterTable('credit_ledger').addColumn('note', 'text').execute();
  await db.schema
    .createIndex('credit_ledger_user_idempotency_key')
    .on('credit_ledger')
    .columns(['user_id', 'idempotency_key'])
    .unique()
    .where(sql.ref('idempotency_key'), 'is not', null)
    .execute();

  // The per-user sequence of host webhooks lives on the entitlement row: every change that is
  // forwarded already holds that row's lock, so numbers are handed out in commit order.
  await db.schema.alterTable('entitlements').addColumn('host_sequence', 'bigint', (c) => c.notNull().defaultTo(0)).execute();

  await db.schema
    .createTable('host_deliveries')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('sequence', 'bigint', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('payload', 'jsonb', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull().defaultTo('pending').check(sql`state in ('pending', 'delivered', 'dead')`))
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('locked_until', 'timestamptz')
    .addColumn('locked_by', 'text')
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('delivered_at', 'timestamptz')
    .addColumn('dead_at', 'timestamptz')
    // Set by an admin replay: what the console's replay progress follows.
    .addColumn('replayed_at', 'timestamptz')
    // Several changes of one thing in one transaction become one delivery of the final state.
    .addColumn('transaction_id', 'bigint', (c) => c.notNull())
    .addColumn('coalesce_key', 'text', (c) => c.notNull())
    .addUniqueConstraint('host_deliveries_user_sequence_key', ['user_id', 'sequence'])
    .addUniqueConstraint('host_deliveries_transaction_key', ['transaction_id', 'user_id', 'coalesce_key'])
    .execute();
  await db.schema
    .createIndex('host_deliveries_due_idx')
    .on('host_deliveries')
    .columns(['next_attempt_at'])
    .where(sql.ref('state'), '=', 'pending')
    .execute();
  await db.schema.createIndex('host_deliveries_created_idx').on('host_deliveries').columns(['created_at', 'id']).execute();
  await db.schema
    .createIndex('host_deliveries_dead_idx')
    .on('host_deliveries')
    .columns(['dead_at'])
    .where(sql.ref('state'), '=', 'dead')
    .execute();

  await db.schema
    .createIndex('host_deliveries_replayed_idx')
    .on('host_deliveries')
    .columns(['replayed_at'])
    .where(sql.ref('replayed_at'), 'is not', null)
    .execute();

  await db.schema
    .createTable('host_delivery_attempts')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('delivery_id', 'uuid', (c) => c.notNull().references('host_deliveries.id'))
    .addColumn('attempted_at', 'timestamptz', (c) => c.notNull())
    .addColumn('duration_ms', 'integer', (c) => c.notNull())
    .addColumn('response_status', 'integer')
    .addColumn('response_body', 'text')
    .addColumn('error', 'text')
    .addColumn('worker', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('host_delivery_attempts_delivery_idx').on('host_delivery_attempts').columns(['delivery_id', 'id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('host_delivery_attempts').execute();
  await db.schema.dropTable('host_deliveries').execute();
  await db.schema.alterTable('entitlements').dropColumn('host_sequence').execute();
  await db.schema.dropIndex('credit_ledger_user_idempotency_key').execute();
  await db.schema.alterTable('credit_ledger').dropColumn('note').execute();
  await db.schema.alterTable('credit_ledger').dropColumn('idempotency_key').execute();
}
