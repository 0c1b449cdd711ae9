import { sql, type Kysely } from 'kysely';

/**
 * Feature-flagged rollout of the new payment handler: the flag Settle serves itself (when no
 * Unleash server is configured), the new handler's shadow copy of orders created in shadow mode,
 * and every point where the shadow disagreed with the authoritative legacy handler.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('feature_flags')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('enabled', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('rollout_percent', 'integer', (c) => c.notNull().defaultTo(0).check(sql`rollout_percent between 0 and 100`))
    .addColumn('mode', 'text', (c) => c.notNull().check(sql`mode in ('legacy', 'new', 'shadow')`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_by', 'text', (c) => c.notNull())
    // Bumped on every change: the served document's ETag.
    .addColumn('version', 'integer', (c) => c.notNull().defaultTo(1))
    .execute();

  await db.schema.alterTable('orders').addColumn('shadow_state', 'jsonb').execute();

  await db.schema
    .createTable('shadow_disagreements')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('order_id', 'uuid', (c) => c.notNull().references('orders.id'))
    .addColumn('event_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('legacy_status', 'text', (c) => c.notNull())
    .addColumn('new_status', 'text', (c) => c.notNull())
    .addColumn('legacy_outcome', 'text', (c) => c.notNull())
    .addColumn('new_outcome', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    // A replayed event records nothing new.
    .addUniqueConstraint('shadow_disagreements_order_event_key', ['order_id', 'event_id'])
    .execute();
  await db.schema.createIndex('shadow_disagreements_kind_created_idx').on('shadow_disagreements').columns(['kind', 'created_at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('shadow_disagreements').execute();
  await db.schema.alterTable('orders').dropColumn('shadow_state').execute();
  await db.schema.dropTable('feature_flags').execute();
}
