import { createHash, randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { Db, Trx } from '../database.js';
import type { AdminRole, AdminTokenRow } from '../tables/admin.table.js';

export const ADMIN_TOKEN_PREFIX = 'stl_admin_';

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/**
 * Create an admin API token; the plain token is returned once and only its hash is stored.
 * `adminId` ties it to an account: it then acts with at most that account's role and stops
 * working when the account is disabled.
 */
export async function createAdminToken(
  db: Db | Trx,
  t: { name: string; role: AdminRole; createdBy: string; adminId?: number | null },
): Promise<{ id: number; token: string }> {
  const token = `${ADMIN_TOKEN_PREFIX}${randomBytes(24).toString('base64url')}`;
  const row = await db
    .insertInto('admin_tokens')
    .values({ name: t.name, token_hash: hashSecret(token), role: t.role, created_by: t.createdBy, admin_id: t.adminId ?? null })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { id: Number(row.id), token };
}

/** Whether a token of this name exists (revoked or not: names are unique for good, the audit log names them). */
export async function adminTokenNameTaken(db: Db | Trx, name: string): Promise<boolean> {
  return (await db.selectFrom('admin_tokens').select('id').where('name', '=', name).executeTakeFirst()) !== undefined;
}

/** An unrevoked token whose account (if any) is enabled, with that account's role and e-mail. */
export async function findActiveAdminToken(
  db: Db,
  token: string,
): Promise<(AdminTokenRow & { account_role: AdminRole | null; account_email: string | null }) | undefined> {
  if (!token.startsWith(ADMIN_TOKEN_PREFIX)) return undefined;
  return db
    .selectFrom('admin_tokens as t')
    .leftJoin('admin_users as u', 'u.id', 't.admin_id')
    .selectAll('t')
    .select(['u.role as account_role', 'u.email as account_email'])
    .where('t.token_hash', '=', hashSecret(token))
    .where('t.revoked_at', 'is', null)
    .where((eb) => eb.or([eb('t.admin_id', 'is', null), eb('u.disabled_at', 'is', null)]))
    .executeTakeFirst();
}

export type AdminTokenSummary = {
  id: number;
  name: string;
  role: AdminRole;
  createdBy: string;
  owner: string | null;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
};

/** Every token, newest first: never the hash. */
export async function listAdminTokens(db: Db): Promise<AdminTokenSummary[]> {
  const rows = await db
    .selectFrom('admin_tokens as t')
    .leftJoin('admin_users as u', 'u.id', 't.admin_id')
    .select(['t.id', 't.name', 't.role', 't.created_by', 'u.email', 't.created_at', 't.last_used_at', 't.revoked_at'])
    .orderBy('t.id', 'desc')
    .execute();
  return rows.map((r) => ({
    id: Number(r.id),
    name: r.name,
    role: r.role,
    createdBy: r.created_by,
    owner: r.email ?? null,
    createdAt: new Date(r.created_at),
    lastUsedAt: r.last_used_at ? new Date(r.last_used_at) : null,
    revokedAt: r.revoked_at ? new Date(r.revoked_at) : null,
  }));
}

export async function touchAdminToken(db: Db, id: number): Promise<void> {
  await db.updateTable('admin_tokens').set({ last_used_at: sql`now()` }).where('id', '=', id).execute();
}

export async function revokeAdminToken(db: Db | Trx, name: string): Promise<boolean> {
  const r = await db.updateTable('admin_tokens').set({ revoked_at: sql`now()` }).where('name', '=', name).where('revoked_at', 'is', null).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

export type AdminAuditEntry = { actor: string; action: string; target: string | null; reason: string | null; details?: Record<string, unknown> };

/** Every admin action leaves who, what, why and when; returns the audit row's id. */
export async function recordAdminAction(db: Db | Trx, entry: AdminAuditEntry): Promise<number> {
  const row = await db
    .insertInto('admin_audit')
    .values({ actor: entry.actor, action: entry.action, target: entry.target, reason: entry.reason, details: JSON.stringify(entry.details ?? {}) })
    .returning('id')
    .executeTakeFirstOrThrow();
  return Number(row.id);
}

export type EventReplay = { eventId: string; actor: string; reason: string | null; at: Date; bulk: boolean };

/** Who replayed these events, when and why: single replays and the bulk replays that took them. */
export async function listEventReplays(db: Db, eventIds: string[]): Promise<EventReplay[]> {
  if (eventIds.length === 0) return [];
  const targets = eventIds.map((id) => `event:${id}`);
  const rows = await sql<{ target: string | null; action: string; actor: string; reason: string | null; created_at: Date; ids: string[] | null }>`
    select target, action, actor, reason, created_at,
           case when action = 'events.replay_dead' then array(select jsonb_array_elements_text(details -> 'eventIds')) end as ids
    from admin_audit
    where (action = 'events.replay' and target = any(${targets}::text[]))
       or (action = 'events.replay_dead' and details -> 'eventIds' ?| ${eventIds}::text[])
    order by created_at, id`.execute(db);
  const wanted = new Set(eventIds);
  return rows.rows.flatMap((r) =>
    (r.action === 'events.replay' ? [r.target!.slice('event:'.length)] : (r.ids ?? []).filter((id) => wanted.has(id))).map((eventId) => ({
      eventId,
      actor: r.actor,
      reason: r.reason,
      at: new Date(r.created_at),
      bulk: r.action === 'events.replay_dead',
    })),
  );
}
