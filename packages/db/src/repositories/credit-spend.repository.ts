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
  // One round trip while the lock is taken: the balance, and the key's earlier spend if any.
  const current = await sql<{ credits: number; earlier_delta: number | null; earlier_balance: number | null }>`
    select e.credits, l.delta as earlier_delta, l.balance_after as earlier_balance
    from entitlements e
    left join credit_ledger l on l.user_id = e.user_id and l.idempotency_key = ${s.idempotencyKey}
    where e.user_id = ${s.userId}
    for update of e`.execute(trx);
  const row = current.rows[0];
  if (row && row.earlier_delta !== null) {
    const consumed = -Number(row.earlier_delta);
    if (consumed !== s.credits) return { ok: false, code: 'KEY_REUSED', consumed };
    return { ok: true, credits: Number(row.earlier_balance), consumed, repeated: true };
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
