import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { createTestDatabase, TEST_BACKENDS, type TestDatabase } from '../testing.js';
import { applyCreditDelta, getEntitlement, setPlan } from './grant.repository.js';
import { listCreditLedger, spendCredits } from './credit-spend.repository.js';
import {
  claimDueDeliveries,
  countReplayedDeliveries,
  enqueueOrderUpdated,
  hostOutboxHealth,
  listDeliveries,
  lockDeadDeliveriesSince,
  recordDeliveryAttempt,
  releaseDeliveryLeases,
  requeueDeliveries,
  writeHostMessages,
} from './host-outbox.repository.js';

const attempt = (status: number) => ({ attemptedAt: new Date(), durationMs: 3, responseStatus: status, responseBody: null, error: null });

describe.each(TEST_BACKENDS)('credit spends and the host outbox on %s', (kind) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase(kind);
  });
  afterAll(async () => {
    await t.dispose();
  });

  const deliveriesOf = (userId: string) =>
    t.db.selectFrom('host_deliveries').selectAll().where('user_id', '=', userId).orderBy('sequence').execute();

  it('spends once per key, returns the first result on a repeat, refuses a short balance and a reused key', async () => {
    await t.db.transaction().execute((trx) => applyCreditDelta(trx, { userId: 'u_spend', orderId: null, delta: 10, reason: 'grant' }));
    const spend = (credits: number, key: string) =>
      t.db.transaction().execute((trx) => spendCredits(trx, { userId: 'u_spend', credits, idempotencyKey: key, note: 'export' }));

    expect(await spend(4, 'k1')).toEqual({ ok: true, credits: 6, consumed: 4, repeated: false });
    await t.db.transaction().execute((trx) => applyCreditDelta(trx, { userId: 'u_spend', orderId: null, delta: 5, reason: 'grant' }));
    // The repeat answers what the first call answered, not today's balance.
    expect(await spend(4, 'k1')).toEqual({ ok: true, credits: 6, consumed: 4, repeated: true });
    expect(await spend(5, 'k1')).toEqual({ ok: false, code: 'KEY_REUSED', consumed: 4 });
    expect(await spend(12, 'k2')).toEqual({ ok: false, code: 'INSUFFICIENT_CREDITS', credits: 11 });
    expect(await spend(11, 'k2')).toEqual({ ok: true, credits: 0, consumed: 11, repeated: false });

    const ledger = await listCreditLedger(t.db, { userId: 'u_spend', limit: 10 });
    expect(ledger.map((e) => [e.delta, e.reason, e.idempotency_key, e.note, Number(e.balance_after)])).toEqual([
      [-11, 'consume', 'k2', 'export', 0],
      [5, 'grant', null, null, 11],
      [-4, 'consume', 'k1', 'export', 6],
      [10, 'grant', null, null, 10],
    ]);
    const page2 = await listCreditLedger(t.db, { userId: 'u_spend', beforeId: ledger[1]!.id, limit: 10 });
    expect(page2.map((e) => e.delta)).toEqual([-4, 10]);
  });

  it('the database refuses a negative balance and a second entry for one key', async () => {
    await expect(sql`update entitlements set credits = -1 where user_id = 'u_spend'`.execute(t.db)).rejects.toThrow(/check/i);
    await expect(
      t.db.insertInto('credit_ledger').values({ user_id: 'u_spend', order_id: null, delta: -1, reason: 'consume', balance_after: 0, idempotency_key: 'k1' }).execute(),
    ).rejects.toThrow(/unique|duplicate/i);
  });

  it('never overdraws under concurrent spends', async () => {
    await t.db.transaction().execute((trx) => applyCreditDelta(trx, { userId: 'u_race', orderId: null, delta: 50, reason: 'grant' }));
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        t.db.transaction().execute((trx) => spendCredits(trx, { userId: 'u_race', credits: 1, idempotencyKey: `race-${i % 120}`, note: null })),
      ),
    );
    const fresh = results.filter((r) => r.ok && !r.repeated).length;
    expect(fresh).toBe(50);
    expect(Number((await getEntitlement(t.db, 'u_race'))?.credits)).toBe(0);
    const spends = await t.db.selectFrom('credit_ledger').select(sql<number>`count(*)::int`.as('n')).where('user_id', '=', 'u_race').where('reason', '=', 'consume').executeTakeFirstOrThrow();
    expect(Number(spends.n)).toBe(50);
  });

  it('writes one message per change with the user sequence, one per transaction for the same thing', async () => {
    await t.db.transaction().execute(async (trx) => {
      await applyCreditDelta(trx, { userId: 'u_seq', orderId: null, delta: 5, reason: 'grant' });
      await setPlan(trx, 'u_seq', 'pro', 'active');
      await enqueueOrderUpdated(trx, { userId: 'u_seq', orderId: 'o1', status: 'succeeded' });
    });
    await t.db.transaction().execute((trx) => applyCreditDelta(trx, { userId: 'u_seq', orderId: null, delta: -2, reason: 'refund' }));
    // Rolled back: neither the change nor its message exists, and its number is not used up.
    await t.db
      .transaction()
      .execute(async (trx) => {
        await applyCreditDelta(trx, { userId: 'u_seq', orderId: null, delta: 100, reason: 'grant' });
        throw new Error('rolled back');
      })
      .catch(() => undefined);
    await t.db.transaction().execute((trx) => setPlan(trx, 'u_seq', null, 'canceled'));

    const rows = await deliveriesOf('u_seq');
    expect(rows.map((r) => [Number(r.sequence), r.type, r.payload.sequence])).toEqual([
      [1, 'entitlements.updated', 1],
      [2, 'order.updated', 2],
      [3, 'entitlements.updated', 3],
      [4, 'entitlements.updated', 4],
    ]);
    // The coalesced message carries the state at commit: credits and plan together.
    expect(rows[0]!.payload.data).toEqual({ userId: 'u_seq', credits: 5, creditDebt: 0, plan: 'pro', subscriptionStatus: 'active', planPeriodEnd: null });
    expect(rows[1]!.payload.data).toEqual({ userId: 'u_seq', orderId: 'o1', status: 'succeeded' });
    expect(rows[2]!.payload.data).toMatchObject({ credits: 3, plan: 'pro' });
    expect(rows[3]!.payload.data).toMatchObject({ credits: 3, plan: null, subscriptionStatus: 'canceled' });
  });

  it('a transaction whose id an old, delivered row already carries (ids start over on another cluster) writes its changes as new messages', async () => {
    const userId = 'u_moved';
    // Its first message went out long ago, on the cluster the data came from.
    await t.db.insertInto('entitlements').values({ user_id: userId, plan: null, subscription_status: null, plan_period_end: null }).execute();
    await sql`update entitlements set host_sequence = 2 where user_id = ${userId}`.execute(t.db);
    await t.db.transaction().execute(async (trx) => {
      const old = (key: string, sequence: number) => sql`
        insert into host_deliveries (id, user_id, sequence, type, payload, transaction_id, coalesce_key, state, attempts, created_at, delivered_at)
        values (gen_random_uuid(), ${userId}, ${sequence}, 'entitlements.updated', ${JSON.stringify({ type: 'old', sequence })}::jsonb, txid_current(), ${key},
                'delivered', 1, now() - interval '30 days', now() - interval '30 days')`;
      await old('entitlements', 1).execute(trx);
      await old('order:o_moved', 2).execute(trx);
      // This transaction's changes, through both writers.
      await applyCreditDelta(trx, { userId, orderId: null, delta: 7, reason: 'grant' });
      await writeHostMessages(trx, [{ userId, type: 'order.updated', coalesceKey: 'order:o_moved', data: { userId, orderId: 'o_moved', status: 'refunded' } }]);
    });
    const rows = await deliveriesOf(userId);
    expect(rows.map((r) => [Number(r.sequence), r.state, r.coalesce_key, r.payload.type])).toEqual([
      [1, 'delivered', 'entitlements', 'old'],
      [2, 'delivered', 'order:o_moved', 'old'],
      [3, 'pending', 'entitlements', 'entitlements.updated'],
      [4, 'pending', 'order:o_moved', 'order.updated'],
    ]);
    expect(rows[2]!.payload.data).toMatchObject({ credits: 7 });
    expect(rows[3]!.payload.data).toMatchObject({ status: 'refunded' });
  });

  it('pages the console list through messages written in one transaction (same time to the microsecond)', async () => {
    await t.db.transaction().execute(async (trx) => {
      for (const orderId of ['o1', 'o2', 'o3']) await enqueueOrderUpdated(trx, { userId: 'u_page', orderId, status: 'succeeded' });
    });
    // Sub-millisecond digits, as now() nearly always has: a cursor cut to milliseconds loses them.
    await t.db.updateTable('host_deliveries').set({ created_at: '2026-11-30T10:00:00.123456Z' }).where('user_id', '=', 'u_page').execute();
    const seen: string[] = [];
    let cursor: { createdAt: string; id: string } | undefined;
    for (let page = 0; page < 5; page++) {
      const rows = await listDeliveries(t.db, { userId: 'u_page', cursor, limit: 1 });
      const last = rows.at(-1);
      if (!last) break;
      seen.push(last.id);
      cursor = { createdAt: last.cursor_at, id: last.id };
    }
    expect(seen).toHaveLength(3);
    expect(new Set(seen).size).toBe(3);
  });

  it('claims one message per user at a time, in sequence order, under a lease; dead ones stop blocking', async () => {
    await t.db.deleteFrom('host_delivery_attempts').execute();
    await t.db.updateTable('host_deliveries').set({ state: 'delivered' }).execute();
    for (const delta of [1, 2, 3]) {
      await t.db.transaction().execute((trx) => applyCreditDelta(trx, { userId: 'u_a', orderId: null, delta, reason: 'grant' }));
    }
    await t.db.transaction().execute((trx) => applyCreditDelta(trx, { userId: 'u_b', orderId: null, delta: 1, reason: 'grant' }));

    const first = await claimDueDeliveries(t.db, { limit: 10, leaseMs: 60_000, workerId: 'w1' });
    expect(first.map((d) => [d.user_id, d.payload.data.credits]).sort()).toEqual([['u_a', 1], ['u_b', 1]]);
    // Another instance finds nothing: the heads are leased and the rest wait behind them.
    expect(await claimDueDeliveries(t.db, { limit: 10, leaseMs: 60_000, workerId: 'w2' })).toEqual([]);

    const headA = first.find((d) => d.user_id === 'u_a')!;
    const headB = first.find((d) => d.user_id === 'u_b')!;
    // A worker that no longer holds the lease records its attempt but moves nothing.
    expect(await recordDeliveryAttempt(t.db, { deliveryId: headA.id, workerId: 'w2', attempt: attempt(200), outcome: { kind: 'delivered' } })).toBe(false);
    expect(await recordDeliveryAttempt(t.db, { deliveryId: headA.id, workerId: 'w1', attempt: attempt(500), outcome: { kind: 'dead' } })).toBe(true);
    expect(await recordDeliveryAttempt(t.db, { deliveryId: headB.id, workerId: 'w1', attempt: attempt(200), outcome: { kind: 'delivered' } })).toBe(true);

    const second = await claimDueDeliveries(t.db, { limit: 10, leaseMs: 60_000, workerId: 'w2' });
    expect(second.map((d) => [d.user_id, d.payload.data.credits])).toEqual([['u_a', 3]]);
    await recordDeliveryAttempt(t.db, {
      deliveryId: second[0]!.id,
      workerId: 'w2',
      attempt: attempt(503),
      outcome: { kind: 'retry', nextAttemptAt: new Date(Date.now() + 60_000) },
    });
    // Not due yet, and it blocks the user's third message.
    expect(await claimDueDeliveries(t.db, { limit: 10, leaseMs: 60_000, workerId: 'w2' })).toEqual([]);
    const health = await hostOutboxHealth(t.db);
    expect(health).toMatchObject({ pending: 2, dead: 1 });

    const deadIds = await t.db.transaction().execute((trx) => lockDeadDeliveriesSince(trx, new Date(Date.now() - 60_000), 100));
    expect(deadIds).toEqual([headA.id]);
    const replayedAt = await t.db.transaction().execute((trx) => requeueDeliveries(trx, deadIds));
    expect(await countReplayedDeliveries(t.db, replayedAt)).toEqual({ pending: 1, delivered: 0, dead: 0 });
    // The replayed message is the user's oldest pending one again: it goes first.
    const third = await claimDueDeliveries(t.db, { limit: 10, leaseMs: 60_000, workerId: 'w3' });
    expect(third.map((d) => d.id)).toEqual([headA.id]);
    expect(third[0]!.attempts).toBe(0);
    expect(await releaseDeliveryLeases(t.db, 'w3')).toBe(1);
    const attempts = await t.db.selectFrom('host_delivery_attempts').selectAll().where('delivery_id', '=', headA.id).orderBy('id').execute();
    expect(attempts.map((a) => [a.worker, a.response_status])).toEqual([['w2', 200], ['w1', 500]]);
  });
});
