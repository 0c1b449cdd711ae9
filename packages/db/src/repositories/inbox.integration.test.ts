import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, TEST_BACKENDS, type TestDatabase } from '../testing.js';
import { claimDueEvents, insertEvent, releaseLeases, settleEvent, getEvent } from './stripe-event.repository.js';
import { insertGrantOnce, applyCreditDelta, getEntitlement } from './grant.repository.js';
import { insertOrder } from './order.repository.js';
import { migrationsApplied } from '../migrate.js';

describe.each(TEST_BACKENDS)('inbox and grants on %s', (kind) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase(kind);
  });
  afterAll(async () => {
    await t.dispose();
  });

  const event = (id: string) => ({
    id,
    type: 'payment_intent.succeeded',
    object_id: 'pi_1',
    order_id: null,
    stripe_created: new Date(1_700_000_000_000),
    api_version: '2025-01-27',
    payload: JSON.stringify({ id }),
    outcome: null,
    locked_until: null,
    locked_by: null,
    last_error: null,
    processed_at: null,
  });

  it('applies every migration', async () => {
    expect(await migrationsApplied(t.db)).toBe(true);
  });

  it('stores an event id once', async () => {
    expect(await insertEvent(t.db, event('evt_a'))).toBe(true);
    expect(await insertEvent(t.db, event('evt_a'))).toBe(false);
    const row = await getEvent(t.db, 'evt_a');
    expect(row?.payload).toEqual({ id: 'evt_a' });
    expect(row?.attempts).toBe(0);
  });

  it('claims due events once until the lease is released', async () => {
    await insertEvent(t.db, event('evt_b'));
    const first = await claimDueEvents(t.db, { limit: 10, leaseMs: 60_000, workerId: 'w1' });
    expect(first.sort()).toEqual(['evt_a', 'evt_b']);
    expect(await claimDueEvents(t.db, { limit: 10, leaseMs: 60_000, workerId: 'w2' })).toEqual([]);
    expect(await releaseLeases(t.db, 'w1')).toBe(2);
    await settleEvent(t.db, 'evt_a', { state: 'processed', outcome: 'applied', attempts: 1 });
    expect(await claimDueEvents(t.db, { limit: 10, leaseMs: 60_000, workerId: 'w2' })).toEqual(['evt_b']);
  });

  it('takes over a claim whose lease expired', async () => {
    await insertEvent(t.db, event('evt_c'));
    expect(await claimDueEvents(t.db, { limit: 1, leaseMs: 1, workerId: 'crashed' })).toEqual(['evt_c']);
    await new Promise((r) => setTimeout(r, 20));
    expect(await claimDueEvents(t.db, { limit: 1, leaseMs: 60_000, workerId: 'w3' })).toEqual(['evt_c']);
  });

  it('refuses a second grant of one kind for one order, in the database itself', async () => {
    const order = await insertOrder(t.db, {
      id: '00000000-0000-4000-8000-000000000001', user_id: 'u1', product_id: 'p', amount: 100, currency: 'usd',
      status: 'succeeded', handler: 'new',
    });
    const grant = { order_id: order.id, user_id: 'u1', kind: 'credits' as const, credits: 10, plan: null, event_id: null, revoked_at: null };
    const [a, b] = await t.db.transaction().execute(async (trx) => [await insertGrantOnce(trx, grant), await insertGrantOnce(trx, grant)]);
    expect(a?.credits).toBe(10);
    expect(b).toBeUndefined();
    await expect(t.db.insertInto('grants').values(grant).execute()).rejects.toThrow();
  });

  it('records debt instead of a negative balance', async () => {
    await t.db.transaction().execute(async (trx) => {
      await applyCreditDelta(trx, { userId: 'u2', orderId: null, delta: 5, reason: 'grant' });
      expect(await applyCreditDelta(trx, { userId: 'u2', orderId: null, delta: -8, reason: 'refund' })).toEqual({ balance: 0, debt: 3 });
      expect(await applyCreditDelta(trx, { userId: 'u2', orderId: null, delta: 10, reason: 'grant' })).toEqual({ balance: 7, debt: 0 });
    });
    const e = await getEntitlement(t.db, 'u2');
    expect(typeof e?.credits).toBe('number');
    expect(e?.credits).toBe(7);
  });
});
