import type { ColumnType, Insertable, Selectable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

/** One Stripe subscription (id = Stripe's), with the state of the newest fact seen about it. */
export interface SubscriptionTable {
  id: string;
  user_id: string;
  /** The order whose Checkout started it. */
  order_id: string | null;
  product_id: string;
  plan: string | null;
  stripe_customer_id: string | null;
  stripe_price_id: string | null;
  stripe_status: string;
  /** The exposed status (`SubscriptionStatus` of payments-core). */
  status: string;
  current_period_end: Date | null;
  cancel_at_period_end: ColumnType<boolean, boolean | undefined, boolean>;
  /** Stripe `created` of the event that set the status (order-proofing). */
  status_stripe_at: Date;
  created_at: Timestamp;
  updated_at: Timestamp;
}
export type SubscriptionRow = Selectable<SubscriptionTable>;
export type NewSubscription = Insertable<SubscriptionTable>;
