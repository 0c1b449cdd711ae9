import { ADMIN_TOKEN_PREFIX, findActiveAdminToken, touchAdminToken, type AdminRole, type Db } from '@settle/db';

/** Who is acting in the console or through an admin API token. */
export type AdminPrincipal = {
  actor: string;
  role: AdminRole;
  via: 'token' | 'session';
  /** Console sessions only: the account behind the session. */
  adminId?: number;
  email?: string;
  expiresAt?: Date;
};

const RANK: Record<AdminRole, number> = { viewer: 0, operator: 1, owner: 2 };

export function hasRole(principal: AdminPrincipal, needed: AdminRole): boolean {
  return RANK[principal.role] >= RANK[needed];
}

export function isAdminToken(authorization: string | undefined): authorization is string {
  return typeof authorization === 'string' && authorization.startsWith(`Bearer ${ADMIN_TOKEN_PREFIX}`);
}

/** Resolve `Authorization: Bearer stl_admin_...` to its principal; null if unknown or revoked. */
export async function verifyAdminToken(db: Db, authorization: string): Promise<AdminPrincipal | null> {
  const token = authorization.slice('Bearer '.length).trim();
  const row = await findActiveAdminToken(db, token);
  if (!row) return null;
  // Best effort: a failed bookkeeping write must not refuse the request.
  touchAdminToken(db, row.id).catch(() => {});
  return { actor: `token:${row.name}`, role: row.role, via: 'token' };
}
