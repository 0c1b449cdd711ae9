import type { Kysely } from 'kysely';

/** Indexes behind the console's order filters (newest first, by status, by customer). */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('orders_created_idx').on('orders').columns(['created_at desc', 'id desc']).execute();
  await db.schema.createIndex('orders_status_created_idx').on('orders').columns(['status', 'created_at desc', 'id desc']).execute();
  await db.schema.createIndex('orders_customer_idx').on('orders').column('stripe_customer_id').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const name of ['orders_customer_idx', 'orders_status_created_idx', 'orders_created_idx']) await db.schema.dropIndex(name).execute();
}
