import { sql, type Kysely } from 'kysely';

/**
 * The console finds an order by its invoice's number (what a customer quotes from the PDF Stripe
 * sent, e.g. `A1B2C3D4-0001`): one-time invoices and a plan's invoices. `if not exists`, so an
 * operator of a large database can build them beforehand with `create index concurrently`.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create index if not exists invoices_number_idx on invoices (number) where number is not null`.execute(db);
  await sql`create index if not exists subscription_payments_number_idx on subscription_payments (number) where number is not null`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists subscription_payments_number_idx`.execute(db);
  await sql`drop index if exists invoices_number_idx`.execute(db);
}
