import type { ColumnType, Generated, Selectable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export type AdminRole = 'viewer' | 'operator' | 'owner';
export const ADMIN_ROLES = ['viewer', 'operator', 'owner'] as const satisfies readonly AdminRole[];

export interface AdminUserTable {
  id: Generated<number>;
  email: string;
  password_hash: string;
  role: AdminRole;
  created_at: Timestamp;
  disabled_at: Date | null;
}
export type AdminUserRow = Selectable<AdminUserTable>;

export interface AdminSessionTable {
  id_hash: string;
  admin_id: number;
  created_at: Timestamp;
  expires_at: Date;
}

export interface AdminTokenTable {
  id: Generated<number>;
  name: string;
  token_hash: string;
  role: AdminRole;
  created_by: string;
  created_at: Timestamp;
  last_used_at: Date | null;
  revoked_at: Date | null;
  /** The account the token acts for; null for tokens made with the CLI before any account existed. */
  admin_id: number | null;
}
export type AdminTokenRow = Selectable<AdminTokenTable>;

export interface AdminAuditTable {
  id: Generated<number>;
  actor: string;
  action: string;
  target: string | null;
  reason: string | null;
  details: ColumnType<Record<string, unknown>, string | undefined, string>;
  created_at: Timestamp;
}
export type AdminAuditRow = Selectable<AdminAuditTable>;

export type RefundRequestState = 'requested' | 'succeeded' | 'failed';

export interface AdminRefundRequestTable {
  request_key: string;
  order_id: string;
  payment_intent_id: string;
  amount: number;
  currency: string;
  actor: string;
  reason: string;
  state: RefundRequestState;
  stripe_refund_id: string | null;
  stripe_status: string | null;
  error: string | null;
  audit_id: number | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}
export type AdminRefundRequestRow = Selectable<AdminRefundRequestTable>;

/** rate-limiter-flexible's PostgreSQL store (created by a migration, not by the library). */
export const RATE_LIMIT_TABLE = 'rate_limits';
