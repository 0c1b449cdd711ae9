import { sql, type Kysely } from 'kysely';

/**
 * The buyer's e-mail from Checkout, so the console can find an order by it, and an index for
 * "paid one-time orders still without their invoice".
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('orders').addColumn('customer_email', 'text').execute();
  await sql`create index orders_customer_email_idx on orders (lower(customer_email)) where customer_email is not null`.execute(db);
  await sql`create index orders_paid_payment_idx on orders (paid_at) where status = 'succeeded' and mode = 'payment'`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop index orders_paid_payment_idx`.execute(db);
  await sql`drop index orders_customer_email_idx`.execute(db);
  await db.schema.alterTable('orders').dropColumn('customer_email').execute();
}
