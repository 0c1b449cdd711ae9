import { createHash, randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { Db, Trx } from '../database.js';
import type { AdminRole, AdminTokenRow } from '../tables/admin.table.js';

export const ADMIN_TOKEN_PREFIX = 'stl_admin_';

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Create an admin API token; the plain token is returned once and only its hash is stored. */
export async function createAdminToken(db: Db, t: { name: string; role: AdminRole; createdBy: string }): Promise<{ id: number; token: string }> {
  const token = `${ADMIN_TOKEN_PREFIX}${randomBytes(24).toString('base64url')}`;
  const row = await db
    .insertInto('admin_tokens')
    .values({ name: t.name, token_hash: hashSecret(token), role: t.role, created_by: t.createdBy, last_used_at: null, revoked_at: null })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { id: row.id, token };
}

export async function findActiveAdminToken(db: Db, token: string): Promise<AdminTokenRow | undefined> {
  if (!token.startsWith(ADMIN_TOKEN_PREFIX)) return undefined;
  return db.selectFrom('admin_tokens').selectAll().where('token_hash', '=', hashSecret(token)).where('revoked_at', 'is', null).executeTakeFirst();
}

export async function touchAdminToken(db: Db, id: number): Promise<void> {
  await db.updateTable('admin_tokens').set({ last_used_at: sql`now()` }).where('id', '=', id).execute();
}

export async function revokeAdminToken(db: Db, name: string): Promise<boolean> {
  const r = await db.updateTable('admin_tokens').set({ revoked_at: sql`now()` }).where('name', '=', name).where('revoked_at', 'is', null).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

export type AdminAuditEntry = { actor: string; action: string; target: string | null; reason: string | null; details?: Record<string, unknown> };

/** Every admin action leaves who, what, why and when. */
export async function recordAdminAction(db: Db | Trx, entry: AdminAuditEntry): Promise<void> {
  await db
    .insertInto('admin_audit')
    .values({ actor: entry.actor, action: entry.action, target: entry.target, reason: entry.reason, details: JSON.stringify(entry.details ?? {}) })
    .execute();
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
