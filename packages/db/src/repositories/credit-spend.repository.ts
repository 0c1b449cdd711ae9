import type { Db, Trx } from '../database.js';
import type { CreditLedgerRow } from '../tables/grant.table.js';
import { applyCreditDelta } from './grant.repository.js';

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
  await trx
    .insertInto('entitlements')
    .values({ user_id: s.userId, plan: null, subscription_status: null, plan_period_end: null })
    .onConflict((oc) => oc.column('user_id').doNothing())
    .execute();
  const entitlement = await trx.selectFrom('entitlements').select('credits').where('user_id', '=', s.userId).forUpdate().executeTakeFirstOrThrow();
  const earlier = await trx
    .selectFrom('credit_ledger')
    .select(['delta', 'balance_after'])
    .where('user_id', '=', s.userId)
    .where('idempotency_key', '=', s.idempotencyKey)
    .executeTakeFirst();
  if (earlier) {
    const consumed = -Number(earlier.delta);
    if (consumed !== s.credits) return { ok: false, code: 'KEY_REUSED', consumed };
    return { ok: true, credits: Number(earlier.balance_after), consumed, repeated: true };
  }
  const balance = Number(entitlement.credits);
  if (balance < s.credits) return { ok: false, code: 'INSUFFICIENT_CREDITS', credits: balance };
  const after = await applyCreditDelta(trx, {
    userId: s.userId,
    orderId: null,
    delta: -s.credits,
    reason: 'consume',
    idempotencyKey: s.idempotencyKey,
    note: s.note,
  });
  return { ok: true, credits: after.balance, consumed: s.credits, repeated: false };
}

/** A user's ledger, newest first, keyset-paged by entry id. */
export async function listCreditLedger(db: Db | Trx, q: { userId: string; beforeId?: number; limit: number }): Promise<CreditLedgerRow[]> {
  let query = db.selectFrom('credit_ledger').selectAll().where('user_id', '=', q.userId);
  if (q.beforeId !== undefined) query = query.where('id', '<', q.beforeId);
  return query.orderBy('id', 'desc').limit(q.limit).execute();
}
