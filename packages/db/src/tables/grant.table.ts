import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export interface GrantTable {
  id: Generated<number>;
  order_id: string;
  user_id: string;
  kind: 'credits' | 'plan';
  credits: Generated<number>;
  plan: string | null;
  credits_revoked: Generated<number>;
  event_id: string | null;
  granted_at: Timestamp;
  revoked_at: Date | null;
}
export type GrantRow = Selectable<GrantTable>;
export type NewGrant = Insertable<GrantTable>;

export interface CreditLedgerTable {
  id: Generated<number>;
  user_id: string;
  order_id: string | null;
  delta: number;
  reason: string;
  balance_after: number;
  debt_after: Generated<number>;
  created_at: Timestamp;
}
export type CreditLedgerRow = Selectable<CreditLedgerTable>;

export interface EntitlementTable {
  user_id: string;
  credits: Generated<number>;
  credit_debt: Generated<number>;
  plan: string | null;
  subscription_status: string | null;
  plan_period_end: Date | null;
  updated_at: Timestamp;
}
export type EntitlementRow = Selectable<EntitlementTable>;
