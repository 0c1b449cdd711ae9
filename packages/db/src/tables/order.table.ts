import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export interface OrderTable {
  id: string;
  user_id: string;
  product_id: string;
  quantity: Generated<number>;
  amount: number;
  currency: string;
  status: string;
  handler: 'legacy' | 'new';
  checkout_session_id: string | null;
  payment_intent_id: string | null;
  stripe_customer_id: string | null;
  status_stripe_at: Date | null;
  paid_at: Date | null;
  amount_refunded: Generated<number>;
  dispute_id: string | null;
  dispute_status: string | null;
  status_before_dispute: string | null;
  review_reason: string | null;
  failure_reason: string | null;
  /** The new handler's copy of the order (its `OrderState`) for orders created in shadow mode; null otherwise. */
  shadow_state: ColumnType<unknown, string | null | undefined, string | null>;
  /** What the order grants as its checkout's catalogue said (JSON of payments-core's `GrantSpec`); null for orders from before it was kept. */
  grant_spec?: ColumnType<unknown, string | null | undefined, string | null>;
  last_reconciled_at?: Date | null;
  customer_email?: string | null;
  /** The caller's `idempotencyKey` of `checkout.create` (unique per user), and the Checkout URL it was answered with. */
  checkout_key?: string | null;
  checkout_url?: string | null;
  /** The Checkout mode the order was created in. */
  mode: ColumnType<'payment' | 'subscription', 'payment' | 'subscription' | undefined, 'payment' | 'subscription'>;
  created_at: Timestamp;
  updated_at: Timestamp;
}
export type OrderRow = Selectable<OrderTable>;
export type NewOrder = Insertable<OrderTable>;
export type OrderUpdate = Updateable<OrderTable>;

export interface OrderTransitionTable {
  id: Generated<number>;
  order_id: string;
  from_status: string | null;
  to_status: string;
  cause: 'stripe_event' | 'admin' | 'reconciler' | 'system';
  event_id: string | null;
  actor: string;
  reason: string | null;
  stripe_at: Date | null;
  created_at: Timestamp;
}
export type OrderTransitionRow = Selectable<OrderTransitionTable>;
export type NewOrderTransition = Insertable<OrderTransitionTable>;

export interface ReconciliationRunTable {
  id: Generated<number>;
  trigger: string;
  started_at: Timestamp;
  finished_at: Date | null;
  checked: Generated<number>;
  disagreements: Generated<number>;
  errors: Generated<number>;
  requeued_events: Generated<number>;
}
