import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { Db, Trx } from '../database.js';
import type { AdminAuditRow, AdminRole, AdminUserRow } from '../tables/admin.table.js';
import { hashSecret } from './admin.repository.js';

/** An admin account as the console shows it: never the password hash. */
export type AdminAccount = { id: number; email: string; role: AdminRole; createdAt: Date; disabledAt: Date | null };

const account = (r: Pick<AdminUserRow, 'id' | 'email' | 'role' | 'created_at' | 'disabled_at'>): AdminAccount => ({
  id: Number(r.id),
  email: r.email,
  role: r.role,
  createdAt: new Date(r.created_at),
  disabledAt: r.disabled_at ? new Date(r.disabled_at) : null,
});

/** Emails are compared case-insensitively: stored lower-cased. */
export const normalizeEmail = (email: string): string => email.trim().toLowerCase();

export async function countAdminUsers(db: Db | Trx): Promise<number> {
  const r = await db.selectFrom('admin_users').select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow();
  return Number(r.n);
}

/** Insert an admin account; null when the email is taken. */
export async function insertAdminUser(
  db: Db | Trx,
  u: { email: string; passwordHash: string; role: AdminRole },
): Promise<AdminAccount | null> {
  const row = await db
    .insertInto('admin_users')
    .values({ email: normalizeEmail(u.email), password_hash: u.passwordHash, role: u.role, disabled_at: null })
    .onConflict((oc) => oc.column('email').doNothing())
    .returning(['id', 'email', 'role', 'created_at', 'disabled_at'])
    .executeTakeFirst();
  return row ? account(row) : null;
}

export async function findAdminUserByEmail(db: Db | Trx, email: string): Promise<AdminUserRow | undefined> {
  return db.selectFrom('admin_users').selectAll().where('email', '=', normalizeEmail(email)).executeTakeFirst();
}

export async function listAdminUsers(db: Db): Promise<AdminAccount[]> {
  const rows = await db.selectFrom('admin_users').select(['id', 'email', 'role', 'created_at', 'disabled_at']).orderBy('email').execute();
  return rows.map(account);
}

/** Enable a disabled account again (it signs in with its old password); null if there is no such disabled account. */
export async function enableAdminUser(trx: Trx, email: string): Promise<AdminAccount | null> {
  const row = await trx
    .updateTable('admin_users')
    .set({ disabled_at: null })
    .where('email', '=', normalizeEmail(email))
    .where('disabled_at', 'is not', null)
    .returning(['id', 'email', 'role', 'created_at', 'disabled_at'])
    .executeTakeFirst();
  return row ? account(row) : null;
}

/** Set an account's password and end its sessions (whoever held the old one is signed out); null if there is no such account. */
export async function setAdminPassword(trx: Trx, email: string, passwordHash: string): Promise<AdminAccount | null> {
  const row = await trx
    .updateTable('admin_users')
    .set({ password_hash: passwordHash })
    .where('email', '=', normalizeEmail(email))
    .returning(['id', 'email', 'role', 'created_at', 'disabled_at'])
    .executeTakeFirst();
  if (!row) return null;
  await trx.deleteFrom('admin_sessions').where('admin_id', '=', row.id).execute();
  return account(row);
}

/** Disable an account and end its sessions and API tokens at once; null if there is no such active account. */
export async function disableAdminUser(trx: Trx, email: string): Promise<AdminAccount | null> {
  const row = await trx
    .updateTable('admin_users')
    .set({ disabled_at: sql`now()` })
    .where('email', '=', normalizeEmail(email))
    .where('disabled_at', 'is', null)
    .returning(['id', 'email', 'role', 'created_at', 'disabled_at'])
    .executeTakeFirst();
  if (!row) return null;
  await trx.deleteFrom('admin_sessions').where('admin_id', '=', row.id).execute();
  // Its API tokens die with it (lookups also refuse tokens of a disabled account).
  await trx.updateTable('admin_tokens').set({ revoked_at: sql`now()` }).where('admin_id', '=', row.id).where('revoked_at', 'is', null).execute();
  return account(row);
}

/** Start a session; the plain session id goes into the cookie, only its SHA-256 is stored. */
export async function createAdminSession(db: Db | Trx, adminId: number, expiresAt: Date): Promise<string> {
  const sessionId = randomBytes(32).toString('base64url');
  await db.insertInto('admin_sessions').values({ id_hash: hashSecret(sessionId), admin_id: adminId, expires_at: expiresAt }).execute();
  return sessionId;
}

export type ActiveAdminSession = { adminId: number; email: string; role: AdminRole; expiresAt: Date };

/** The unexpired session of an enabled account, or undefined. */
export async function findActiveAdminSession(db: Db, sessionId: string): Promise<ActiveAdminSession | undefined> {
  const row = await db
    .selectFrom('admin_sessions as s')
    .innerJoin('admin_users as u', 'u.id', 's.admin_id')
    .select(['u.id as adminId', 'u.email', 'u.role', 's.expires_at as expiresAt'])
    .where('s.id_hash', '=', hashSecret(sessionId))
    .where('s.expires_at', '>', sql<Date>`now()`)
    .where('u.disabled_at', 'is', null)
    .executeTakeFirst();
  return row ? { adminId: Number(row.adminId), email: row.email, role: row.role, expiresAt: new Date(row.expiresAt) } : undefined;
}

export async function deleteAdminSession(db: Db | Trx, sessionId: string): Promise<boolean> {
  const r = await db.deleteFrom('admin_sessions').where('id_hash', '=', hashSecret(sessionId)).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

export async function deleteExpiredAdminSessions(db: Db): Promise<number> {
  const r = await db.deleteFrom('admin_sessions').where('expires_at', '<=', sql<Date>`now()`).executeTakeFirst();
  return Number(r.numDeletedRows);
}

export type AdminAuditFilter = {
  /** `kind:value` as stored (`admin:ops@example.com`, `token:ci`), or the value alone (any kind). */
  actor?: string | undefined;
  /** Exact action, or a prefix ending in `.` (e.g. `orders.`). */
  action?: string | undefined;
  /** `kind:value` as stored (`order:<id>`), or the value alone: an order id pasted from the console. */
  target?: string | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
  /** The id of the last row of the previous page. */
  afterId?: number | undefined;
  limit: number;
};

/**
 * The admin audit log, newest first, keyset-paginated on the id (append-only, so id order is
 * time order; unlike a millisecond timestamp cursor it cannot skip rows).
 */
export async function listAdminAudit(db: Db, f: AdminAuditFilter): Promise<AdminAuditRow[]> {
  let q = db.selectFrom('admin_audit').selectAll();
  const escapeLike = (v: string) => v.replace(/[%_\\]/g, '\\$&');
  // Actors and targets are stored as `kind:value`; a bare value matches it under any kind.
  const kindOrValue = (column: 'actor' | 'target', v: string) =>
    v.includes(':') ? q.where(column, '=', v) : q.where((eb) => eb.or([eb(column, '=', v), eb(column, 'like', `%:${escapeLike(v)}`)]));
  if (f.actor) q = kindOrValue('actor', f.actor);
  if (f.action) q = f.action.endsWith('.') ? q.where('action', 'like', `${escapeLike(f.action)}%`) : q.where('action', '=', f.action);
  if (f.target) q = kindOrValue('target', f.target);
  if (f.from) q = q.where('created_at', '>=', f.from);
  if (f.to) q = q.where('created_at', '<', f.to);
  if (f.afterId !== undefined) q = q.where('id', '<', f.afterId);
  return q.orderBy('id', 'desc').limit(f.limit).execute();
}
