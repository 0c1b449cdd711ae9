import { sql, type Kysely } from 'kysely';

/**
 * "Missing invoice" watches every paid one-time order, not only one still `succeeded`: a paid
 * order partially refunded, refunded, disputed or charged back before its invoice came needs that
 * invoice all the more (accounting books the refund or the chargeback against it). The partial
 * index behind the watch follows the wider predicate (`missingInvoice` in order.repository.ts).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`set local statement_timeout = 0`.execute(db);
  await sql`drop index if exists orders_paid_payment_idx`.execute(db);
  await sql`create index orders_paid_payment_idx on orders (paid_at) where mode = 'payment' and status in ('succeeded', 'partially_refunded', 'refunded', 'disputed', 'charged_back')`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists orders_paid_payment_idx`.execute(db);
  await sql`create index orders_paid_payment_idx on orders (paid_at) where status = 'succeeded' and mode = 'payment'`.execute(db);
}
