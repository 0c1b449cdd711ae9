import { sql } from 'kysely';
import type { Db, Trx } from '../database.js';
import type { CreditLedgerRow } from '../tables/grant.table.js';
import { enqueueEntitlementsUpdated } from './host-outbox.repository.js';

export type CreditSpendResult =
  | { ok: true; credits: number; consumed: number; repeated: boolean }
  | { ok: false; code: 'INSUFFICIENT_CREDITS'; credits: number }
  | { ok: false; code: 'KEY_REUSED'; consumed: number };

/**
 * Spend a user's credits once per idempotency key. The entitlement row's lock serialises every
 * spend, grant and revocation of the user, so the balance checked is the balance spent; the
 * `credits >= 0` check and the unique (user, key) index are the database's last word. A key seen
 * before returns its first result; a short balance spends nothing and stores nothing, so the same
 * key may be tried again after a top-up.
 */
export async function spendCredits(
  trx: Trx,
  s: { userId: string; credits: number; idempotencyKey: string; note: string | null },
): Promise<CreditSpendResult> {
  // The lock first, then the key's earlier spend in a statement of its own: a statement that
  // waited for the lock still reads with the snapshot it started with, so a spend of the same key
  // that committed meanwhile (the host's retry reaching another instance) would be invisible to
  // it, and the retry would answer "not enough credits" or run into the unique index.
  const locked = await sql<{ credits: number }>`select credits from entitlements where user_id = ${s.userId} for update`.execute(trx);
  const row = locked.rows[0];
  const earlier = row
    ? (await sql<{ delta: number; balance_after: number }>`
        select delta, balance_after from credit_ledger where user_id = ${s.userId} and idempotency_key = ${s.idempotencyKey}`.execute(trx)).rows[0]
    : undefined;
  if (earlier) {
    const consumed = -Number(earlier.delta);
    if (consumed !== s.credits) return { ok: false, code: 'KEY_REUSED', consumed };
    return { ok: true, credits: Number(earlier.balance_after), consumed, repeated: true };
  }
  const balance = Number(row?.credits ?? 0);
  if (!row || balance < s.credits) return { ok: false, code: 'INSUFFICIENT_CREDITS', credits: balance };
  const updated = await trx
    .updateTable('entitlements')
    .set({ credits: sql`credits - ${s.credits}`, updated_at: sql`now()` })
    .where('user_id', '=', s.userId)
    .returningAll()
    .executeTakeFirstOrThrow();
  await trx
    .insertInto('credit_ledger')
    .values({
      user_id: s.userId,
      order_id: null,
      delta: -s.credits,
      reason: 'consume',
      balance_after: updated.credits,
      debt_after: updated.credit_debt,
      idempotency_key: s.idempotencyKey,
      note: s.note,
    })
    .execute();
  await enqueueEntitlementsUpdated(trx, s.userId, updated);
  return { ok: true, credits: Number(updated.credits), consumed: s.credits, repeated: false };
}

/** A user's ledger, newest first, keyset-paged by entry id. */
export async function listCreditLedger(db: Db | Trx, q: { userId: string; beforeId?: number; limit: number }): Promise<CreditLedgerRow[]> {
  let query = db.selectFrom('credit_ledger').selectAll().where('user_id', '=', q.userId);
  if (q.beforeId !== undefined) query = query.where('id', '<', q.beforeId);
  return query.orderBy('id', 'desc').limit(q.limit).execute();
}
