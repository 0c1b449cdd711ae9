import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../testing.js';
import { spendCredits } from './credit-spend.repository.js';
import { applyCreditDelta } from './grant.repository.js';

/**
 * The host retries a spend (same idempotency key) and the retry reaches another API instance
 * while the first spend's transaction is still open. PostgreSQL only: PGlite has one connection,
 * so two transactions never overlap there.
 */
describe.runIf(process.env.DATABASE_URL)('the same spend on two connections at once (postgres)', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase('postgres');
  });
  afterAll(async () => {
    await t.dispose();
  });

  /** The first spend holds the user's row while the second (same key) starts and waits for it. */
  async function race(userId: string, granted: number, credits: number) {
    await t.db.transaction().execute((trx) => applyCreditDelta(trx, { userId, orderId: null, delta: granted, reason: 'grant' }));
    const spend = { userId, credits, idempotencyKey: 'job-1', note: null };
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let spent!: () => void;
    const firstSpent = new Promise<void>((resolve) => (spent = resolve));
    const first = t.db.transaction().execute(async (trx) => {
      const result = await spendCredits(trx, spend);
      spent();
      await held;
      return result;
    });
    await firstSpent;
    const second = t.db.transaction().execute((trx) => spendCredits(trx, spend)).catch((err: unknown) => ({ error: String(err) }));
    // The second is now waiting for the row lock (it cannot finish before the first commits).
    await new Promise((resolve) => setTimeout(resolve, 200));
    release();
    const ledger = async () => (await t.db.selectFrom('credit_ledger').select('delta').where('user_id', '=', userId).orderBy('id').execute()).map((r) => Number(r.delta));
    return { first: await first, second: await second, ledger: await ledger() };
  }

  it('with the balance now short, the retry answers the first result (not "not enough credits")', async () => {
    const { first, second, ledger } = await race('u_short', 10, 8);
    expect(first).toEqual({ ok: true, credits: 2, consumed: 8, repeated: false });
    expect(second).toEqual({ ok: true, credits: 2, consumed: 8, repeated: true });
    expect(ledger).toEqual([10, -8]);
  });

  it('with enough balance left, the retry answers the first result and spends nothing (not a unique-index error)', async () => {
    const { first, second, ledger } = await race('u_enough', 10, 3);
    expect(first).toEqual({ ok: true, credits: 7, consumed: 3, repeated: false });
    expect(second).toEqual({ ok: true, credits: 7, consumed: 3, repeated: true });
    expect(ledger).toEqual([10, -3]);
  });
});
