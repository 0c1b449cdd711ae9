import type { ColumnType, Insertable, Selectable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

/** One refund of an order's payment (or of a duplicate payment), as Stripe last reported it. */
export interface RefundTable {
  id: string;
  order_id: string;
  payment_intent_id: string;
  amount: ColumnType<number, number, number>;
  currency: string;
  status: 'pending' | 'requires_action' | 'succeeded' | 'failed' | 'canceled';
  reason: string | null;
  failure_reason: string | null;
  stripe_created: Date;
  undone_at: Date | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}
export type RefundRow = Selectable<RefundTable>;
export type NewRefund = Insertable<RefundTable>;

/** A second successful payment for an order that was already paid. */
export interface DuplicatePaymentTable {
  payment_intent_id: string;
  order_id: string;
  amount: number;
  currency: string;
  amount_refunded: ColumnType<number, number | undefined, number>;
  paid_at: Date;
  event_id: string | null;
  created_at: Timestamp;
}
export type DuplicatePaymentRow = Selectable<DuplicatePaymentTable>;
export type NewDuplicatePayment = Insertable<DuplicatePaymentTable>;
