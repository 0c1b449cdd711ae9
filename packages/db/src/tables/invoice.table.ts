import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export interface InvoiceTable {
  id: string;
  order_id: string | null;
  number: string | null;
  status: string | null;
  hosted_invoice_url: string | null;
  invoice_pdf: string | null;
  amount_due: number;
  amount_paid: number;
  currency: string;
  subscription_id: string | null;
  stripe_created: Date;
  finalized_at: Date | null;
  paid_at: Date | null;
  updated_at: Timestamp;
}
export type InvoiceRow = Selectable<InvoiceTable>;
export type NewInvoice = Insertable<InvoiceTable>;

export interface StripeCustomerTable {
  user_id: string;
  stripe_customer_id: string;
  created_at: Timestamp;
}
