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
  /** Set on a spend (`entitlements.consume`): the host's idempotency key, unique per user. */
  idempotency_key: string | null;
  /** The host's own words for a spend (`reason` says what kind of entry it is). */
  note: string | null;
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
  /** The last sequence number given to a host webhook about this user. */
  host_sequence: Generated<number>;
  updated_at: Timestamp;
}
export type EntitlementRow = Selectable<EntitlementTable>;

/** A user's entitlements as `entitlements.get` and the host webhook `entitlements.updated` show them. */
export type EntitlementsView = {
  credits: number;
  creditDebt: number;
  plan: string | null;
  subscriptionStatus: string | null;
  /** Until when the plan is paid (ISO-8601), from Stripe's current period end. */
  planPeriodEnd: string | null;
};

export function entitlementsView(row: EntitlementRow | undefined): EntitlementsView {
  return {
    credits: Number(row?.credits ?? 0),
    creditDebt: Number(row?.credit_debt ?? 0),
    plan: row?.plan ?? null,
    subscriptionStatus: row?.subscription_status ?? null,
    planPeriodEnd: row?.plan_period_end ? new Date(row.plan_period_end).toISOString() : null,
  };
}
