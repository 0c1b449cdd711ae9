import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

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
  /** Stripe's `cancel_at`: a scheduled cancellation, possibly before `current_period_end` (it then ends there). */
  cancel_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  cancel_at_period_end: ColumnType<boolean, boolean | undefined, boolean>;
  /** Stripe `created` of the event that set the status (order-proofing). */
  status_stripe_at: Date;
  /** The status is Settle's inference from the first paid invoice until a subscription object says otherwise. */
  status_inferred: ColumnType<boolean, boolean | undefined, boolean>;
  /** Stripe `created` of the fact whose catalogue price set `plan` (the plan has its own clock). */
  plan_stripe_at: Date | null;
  /** The current item's price when the catalogue does not know it: waits for review, last known plan kept. */
  unknown_price_id: string | null;
  trial_end: Date | null;
  latest_invoice_id: string | null;
  last_reconciled_at: Date | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}
export type SubscriptionRow = Selectable<SubscriptionTable>;
export type NewSubscription = Insertable<SubscriptionTable>;

/** One invoice of a subscription, as a payment of it (id = Stripe's invoice id). */
export interface SubscriptionPaymentTable {
  invoice_id: string;
  subscription_id: string;
  billing_reason: string | null;
  /** Stripe's invoice status: draft, open, uncollectible, void, paid. */
  status: string;
  number: string | null;
  hosted_invoice_url: string | null;
  invoice_pdf: string | null;
  amount_due: number;
  amount_paid: number;
  currency: string;
  period_start: Date | null;
  period_end: Date | null;
  price_id: string | null;
  payment_intent_id: string | null;
  charge_id: string | null;
  amount_refunded: number;
  /** Each refund of the payment as last reported (JSON text on write): `undone_at` once it failed or was canceled. */
  refunds: ColumnType<StoredPaymentRefund[], string | undefined, string>;
  dispute_id: string | null;
  dispute_status: 'open' | 'won' | 'lost' | 'prevented' | null;
  attempt_count: number;
  stripe_created: Date;
  paid_at: Date | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}
export type SubscriptionPaymentRow = Selectable<SubscriptionPaymentTable>;
/** A refund of a subscription payment as stored; `undone_at` in Stripe time (epoch seconds). */
export type StoredPaymentRefund = { refund_id: string; amount: number; status: string; undone_at: number | null };
export type NewSubscriptionPayment = Insertable<SubscriptionPaymentTable>;

/** The timeline of a subscription: status and plan changes, payments, reviews and notices, with who and why. */
export interface SubscriptionHistoryTable {
  id: Generated<string>;
  subscription_id: string;
  kind: 'status' | 'plan' | 'payment' | 'review' | 'notice';
  from_status: string | null;
  to_status: string | null;
  from_plan: string | null;
  to_plan: string | null;
  invoice_id: string | null;
  cause: 'stripe_event' | 'admin' | 'reconciler' | 'system';
  actor: string;
  reason: string | null;
  event_id: string | null;
  stripe_at: Date | null;
  created_at: Timestamp;
}
export type SubscriptionHistoryRow = Selectable<SubscriptionHistoryTable>;
export type NewSubscriptionHistory = Insertable<SubscriptionHistoryTable>;
