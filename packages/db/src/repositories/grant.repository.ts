import { sql } from 'kysely';
import type { Db, Trx } from '../database.js';
import type { EntitlementRow, GrantRow, NewGrant } from '../tables/grant.table.js';
import { enqueueEntitlementsUpdated, entitlementsUpdatedDraft, lockEntitlements, type HostMessageDraft } from './host-outbox.repository.js';

/** Insert a grant unless the order already has one of its kind; returns it only when new. */
export async function insertGrantOnce(trx: Trx, grant: NewGrant): Promise<GrantRow | undefined> {
  return trx
    .insertInto('grants')
    .values(grant)
    .onConflict((oc) => oc.constraint('grants_order_kind_key').doNothing())
    .returningAll()
    .executeTakeFirst();
}

export async function lockGrant(trx: Trx, orderId: string, kind: 'credits' | 'plan'): Promise<GrantRow | undefined> {
  return trx.selectFrom('grants').selectAll().where('order_id', '=', orderId).where('kind', '=', kind).forUpdate().executeTakeFirst();
}

/** `lockGrant` for every grant of many orders, in one statement. */
export async function lockGrantsOfOrders(trx: Trx, orderIds: readonly string[]): Promise<GrantRow[]> {
  if (orderIds.length === 0) return [];
  return trx.selectFrom('grants').selectAll().where('order_id', 'in', orderIds).orderBy('id').forUpdate().execute();
}

/**
 * Insert grants in one statement, each unless its order already has one of its kind (the
 * database's one-per-order-and-kind constraint); returns the ones that are new.
 */
export async function insertGrantsOnce(trx: Trx, grants: readonly NewGrant[]): Promise<GrantRow[]> {
  if (grants.length === 0) return [];
  return trx
    .insertInto('grants')
    .values([...grants])
    .onConflict((oc) => oc.constraint('grants_order_kind_key').doNothing())
    .returningAll()
    .execute();
}

/** Write many grants' revocation state (`markGrantRevoked` / `markGrantRestored`) in one statement. */
export async function updateGrantRevocations(trx: Trx, grants: readonly Pick<GrantRow, 'id' | 'credits_revoked' | 'revoked_at'>[]): Promise<void> {
  if (grants.length === 0) return;
  await sql`
    update grants as g set credits_revoked = v.credits_revoked, revoked_at = v.revoked_at
    from (values ${sql.join(grants.map((g) => sql`(${g.id}::bigint, ${g.credits_revoked}::int, ${g.revoked_at}::timestamptz)`))}) as v(id, credits_revoked, revoked_at)
    where g.id = v.id`.execute(trx);
}

export async function markGrantRevoked(trx: Trx, grantId: number, creditsRevoked: number, fully: boolean): Promise<void> {
  await trx
    .updateTable('grants')
    .set({ credits_revoked: creditsRevoked, ...(fully ? { revoked_at: sql`now()` } : {}) })
    .where('id', '=', grantId)
    .execute();
}

/** Take a revocation back down to `creditsRevoked` (a refund failed): the grant is live again. */
export async function markGrantRestored(trx: Trx, grantId: number, creditsRevoked: number): Promise<void> {
  await trx.updateTable('grants').set({ credits_revoked: creditsRevoked, revoked_at: null }).where('id', '=', grantId).execute();
}

export async function listGrantsForOrder(db: Db | Trx, orderId: string): Promise<GrantRow[]> {
  return db.selectFrom('grants').selectAll().where('order_id', '=', orderId).orderBy('id').execute();
}

async function lockEntitlement(trx: Trx, userId: string): Promise<EntitlementRow> {
  await trx.insertInto('entitlements').values({ user_id: userId, plan: null, subscription_status: null, plan_period_end: null })
    .onConflict((oc) => oc.column('user_id').doNothing()).execute();
  return trx.selectFrom('entitlements').selectAll().where('user_id', '=', userId).forUpdate().executeTakeFirstOrThrow();
}

/** A balance and debt after a delta: a debit takes the balance to zero at most and the rest becomes debt; a credit repays debt first. */
function moveCredits(from: { balance: number; debt: number }, delta: number): { balance: number; debt: number } {
  let { balance, debt } = from;
  if (delta >= 0) {
    const repaid = Math.min(debt, delta);
    debt -= repaid;
    balance += delta - repaid;
  } else {
    const taken = Math.min(balance, -delta);
    balance -= taken;
    debt += -delta - taken;
  }
  return { balance, debt };
}

/**
 * Move a user's credit balance through the ledger. A debit larger than the balance takes the
 * balance to zero and records the rest as debt: never a silent negative balance. The host app is
 * told in the same transaction (the outbox). A batch moves credits with `applyCreditDeltas`.
 */
export async function applyCreditDelta(
  trx: Trx,
  entry: { userId: string; orderId: string | null; delta: number; reason: string; idempotencyKey?: string; note?: string | null },
): Promise<{ balance: number; debt: number }> {
  const current = await lockEntitlement(trx, entry.userId);
  const { balance, debt } = moveCredits({ balance: Number(current.credits), debt: Number(current.credit_debt) }, entry.delta);
  const updated = await trx
    .updateTable('entitlements')
    .set({ credits: balance, credit_debt: debt, updated_at: sql`now()` })
    .where('user_id', '=', entry.userId)
    .returningAll()
    .executeTakeFirstOrThrow();
  await trx.insertInto('credit_ledger').values({
    user_id: entry.userId,
    order_id: entry.orderId,
    delta: entry.delta,
    reason: entry.reason,
    balance_after: balance,
    debt_after: debt,
    idempotency_key: entry.idempotencyKey ?? null,
    note: entry.note ?? null,
  }).execute();
  await enqueueEntitlementsUpdated(trx, entry.userId, updated);
  return { balance, debt };
}

/** A credit movement held back by a batch, for `applyCreditDeltas`. */
export type CreditDelta = { userId: string; orderId: string | null; delta: number; reason: string };

/**
 * `applyCreditDelta` for many movements in four statements, with the same outcome as applying
 * them one by one in the order given: the users' entitlement rows are created if missing and
 * locked (in user order), each balance is moved in JavaScript, then the rows are updated and the
 * ledger written together. The host is not told here: the batch drafts its own messages.
 * `locked`: the users' rows as the transaction has locked them (`lockEntitlements`), which saves
 * locking them again; it is brought up to date with the new balances.
 */
export async function applyCreditDeltas(
  trx: Trx,
  entries: readonly CreditDelta[],
  locked?: Map<string, EntitlementRow>,
): Promise<{ balance: number; debt: number }[]> {
  if (entries.length === 0) return [];
  const users = [...new Set(entries.map((e) => e.userId))];
  const held = locked && users.every((u) => locked.has(u)) ? locked : await lockEntitlements(trx, users);
  const now = new Map(users.map((u) => [u, { balance: Number(held.get(u)!.credits), debt: Number(held.get(u)!.credit_debt) }]));
  const after = entries.map((e) => {
    const moved = moveCredits(now.get(e.userId)!, e.delta);
    now.set(e.userId, moved);
    return moved;
  });
  const updated = await sql<EntitlementRow>`
    update entitlements as e set credits = v.credits, credit_debt = v.debt, updated_at = now()
    from (values ${sql.join([...now].map(([userId, m]) => sql`(${userId}, ${m.balance}::bigint, ${m.debt}::bigint)`))}) as v(user_id, credits, debt)
    where e.user_id = v.user_id
    returning e.*`.execute(trx);
  if (locked) for (const row of updated.rows) locked.set(row.user_id, row);
  await trx
    .insertInto('credit_ledger')
    .values(entries.map((e, i) => ({
      user_id: e.userId,
      order_id: e.orderId,
      delta: e.delta,
      reason: e.reason,
      balance_after: after[i]!.balance,
      debt_after: after[i]!.debt,
      idempotency_key: null,
      note: null,
    })))
    .execute();
  return after;
}

export async function setPlan(trx: Trx, userId: string, plan: string | null, subscriptionStatus: string | null, outbox?: HostMessageDraft[]): Promise<void> {
  await lockEntitlement(trx, userId);
  await trx.updateTable('entitlements').set({ plan, subscription_status: subscriptionStatus, updated_at: sql`now()` }).where('user_id', '=', userId).execute();
  if (outbox) outbox.push(entitlementsUpdatedDraft(userId));
  else await enqueueEntitlementsUpdated(trx, userId);
}

export async function getEntitlement(db: Db | Trx, userId: string): Promise<EntitlementRow | undefined> {
  return db.selectFrom('entitlements').selectAll().where('user_id', '=', userId).executeTakeFirst();
}

/** Every credit movement an order caused (its grant, each refund's or chargeback's take-back), oldest first. */
export async function listCreditLedgerForOrder(db: Db | Trx, orderId: string) {
  return db.selectFrom('credit_ledger').select(['id', 'delta', 'reason', 'created_at']).where('order_id', '=', orderId).orderBy('id').execute();
}
