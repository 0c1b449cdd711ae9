import { sql } from 'kysely';
import type { Db, Trx } from '../database.js';
import type { InvoiceRow, NewInvoice } from '../tables/invoice.table.js';

/** Record or refresh an invoice; a later status (paid after finalized) never goes back. */
export async function upsertInvoice(trx: Trx, invoice: NewInvoice): Promise<void> {
  await upsertInvoices(trx, [invoice]);
}

/**
 * `upsertInvoice` for many invoices, as if upserted one by one in the order given. One statement
 * may touch a row once only, so the k-th mention of an invoice goes into the k-th statement
 * (one statement when every invoice is mentioned once).
 */
export async function upsertInvoices(trx: Trx, invoices: readonly NewInvoice[]): Promise<void> {
  const rounds: NewInvoice[][] = [];
  const seen = new Map<string, number>();
  for (const invoice of invoices) {
    const k = seen.get(invoice.id) ?? 0;
    seen.set(invoice.id, k + 1);
    (rounds[k] ??= []).push(invoice);
  }
  for (const round of rounds) {
    await trx
      .insertInto('invoices')
      .values(round)
      .onConflict((oc) =>
        oc.column('id').doUpdateSet((eb) => ({
          order_id: sql`coalesce(invoices.order_id, ${eb.ref('excluded.order_id')})`,
          number: sql`coalesce(${eb.ref('excluded.number')}, invoices.number)`,
          status: sql`case when invoices.status = 'paid' then invoices.status else ${eb.ref('excluded.status')} end`,
          hosted_invoice_url: sql`coalesce(${eb.ref('excluded.hosted_invoice_url')}, invoices.hosted_invoice_url)`,
          invoice_pdf: sql`coalesce(${eb.ref('excluded.invoice_pdf')}, invoices.invoice_pdf)`,
          amount_paid: sql`greatest(invoices.amount_paid, ${eb.ref('excluded.amount_paid')})`,
          finalized_at: sql`coalesce(invoices.finalized_at, ${eb.ref('excluded.finalized_at')})`,
          paid_at: sql`coalesce(invoices.paid_at, ${eb.ref('excluded.paid_at')})`,
          updated_at: sql`now()`,
        })),
      )
      .execute();
  }
}

/**
 * The order's own invoice: the first one Stripe made for it (a one-time purchase has one; a plan's
 * order, the invoice its first payment paid). A plan's renewal invoices name the order too, but they
 * are the subscription's, listed with it: the newest would show a renewal, open or unpaid, beside
 * the order's payment.
 */
export async function findInvoiceForOrder(db: Db | Trx, orderId: string): Promise<InvoiceRow | undefined> {
  return (await findInvoicesForOrders(db, [orderId])).get(orderId);
}

/** `findInvoiceForOrder` for many orders in one statement. */
export async function findInvoicesForOrders(db: Db | Trx, orderIds: string[]): Promise<Map<string, InvoiceRow>> {
  if (orderIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('invoices')
    .selectAll()
    .distinctOn('order_id')
    .where('order_id', 'in', orderIds)
    .orderBy('order_id')
    .orderBy('stripe_created', 'asc')
    .orderBy('id', 'asc')
    .execute();
  return new Map(rows.map((r) => [r.order_id!, r]));
}
