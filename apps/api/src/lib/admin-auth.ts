import { ADMIN_TOKEN_PREFIX, findActiveAdminToken, touchAdminToken, type AdminRole, type Db } from '@settle/db';
import { bearerToken } from './bearer.js';

/** Who is acting in the console or through an admin API token. */
export type AdminPrincipal = {
  actor: string;
  role: AdminRole;
  via: 'token' | 'session';
  /** The account behind the session, or the account a token belongs to. */
  adminId?: number;
  email?: string;
  expiresAt?: Date;
};

const RANK: Record<AdminRole, number> = { viewer: 0, operator: 1, owner: 2 };

export function hasRole(principal: AdminPrincipal, needed: AdminRole): boolean {
  return RANK[principal.role] >= RANK[needed];
}

export function isAdminToken(authorization: string | undefined): authorization is string {
  return bearerToken(authorization)?.startsWith(ADMIN_TOKEN_PREFIX) ?? false;
}

/**
 * Resolve `Authorization: Bearer stl_admin_...` to its principal; null if unknown, revoked, or its
 * account is disabled. A token acts with at most its account's role (a demoted owner's tokens
 * are demoted with them).
 */
export async function verifyAdminToken(db: Db, authorization: string): Promise<AdminPrincipal | null> {
  const token = bearerToken(authorization);
  if (!token) return null;
  const row = await findActiveAdminToken(db, token);
  if (!row) return null;
  // Best effort: a failed bookkeeping write must not refuse the request.
  touchAdminToken(db, row.id).catch(() => {});
  const role = row.account_role && RANK[row.account_role] < RANK[row.role] ? row.account_role : row.role;
  return { actor: `token:${row.name}`, role, via: 'token', ...(row.admin_id !== null ? { adminId: Number(row.admin_id) } : {}) };
}
