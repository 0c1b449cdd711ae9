import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, TEST_BACKENDS, type TestDatabase } from '../testing.js';
import { applyCreditDelta } from './grant.repository.js';
import { enqueueEntitlementsUpdated, entitlementsUpdatedDraft, writeHostMessages, type HostMessageDraft } from './host-outbox.repository.js';
import { insertOrder, lockOrdersByRefs, recordCustomerEmails } from './order.repository.js';

describe.each(TEST_BACKENDS)('a batch\'s set-based reads and writes on %s', (kind) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase(kind);
  });
  afterAll(async () => {
    await t.dispose();
  });

  const order = (userId: string, pi: string | null) =>
    insertOrder(t.db, {
      id: randomUUID(),
      user_id: userId,
      product_id: 'credits10',
      amount: 995,
      currency: 'usd',
      status: 'pending',
      handler: 'new',
      checkout_session_id: `cs_${randomUUID()}`,
      payment_intent_id: pi,
    });
  const deliveriesOf = (userId: string) =>
    t.db.selectFrom('host_deliveries').selectAll().where('user_id', '=', userId).orderBy('sequence').execute();

  it('locks the orders named by id, Checkout Session or PaymentIntent in one read, in id order', async () => {
    const a = await order('u_lock', null);
    const b = await order('u_lock', 'pi_lock_b');
    const c = await order('u_lock', null);
    const found = await t.db.transaction().execute((trx) =>
      lockOrdersByRefs(trx, { ids: [a.id, 'not-an-order-id'], checkoutSessionIds: [c.checkout_session_id!], paymentIntentIds: ['pi_lock_b', 'pi_unknown'] }),
    );
    expect(found.locked.map((r) => r.id)).toEqual([a.id, b.id, c.id].sort());
    expect(found.held).toEqual([]);
    expect(await t.db.transaction().execute((trx) => lockOrdersByRefs(trx, { ids: [], checkoutSessionIds: [], paymentIntentIds: [] }))).toEqual({ locked: [], held: [] });
  });

  it('records each buyer\'s first e-mail only', async () => {
    const a = await order('u_mail', null);
    await t.db.transaction().execute((trx) => recordCustomerEmails(trx, [{ orderId: a.id, email: 'first@example.com' }]));
    await t.db.transaction().execute((trx) => recordCustomerEmails(trx, [{ orderId: a.id, email: 'second@example.com' }]));
    const row = await t.db.selectFrom('orders').select('customer_email').where('id', '=', a.id).executeTakeFirstOrThrow();
    expect(row.customer_email).toBe('first@example.com');
  });

  it('writes a batch\'s host messages numbered per user in drafting order, one per thing, with the committed entitlements', async () => {
    await t.db.transaction().execute(async (trx) => {
      const outbox: HostMessageDraft[] = [];
      await applyCreditDelta(trx, { userId: 'u_batch', orderId: null, delta: 10, reason: 'grant' }, outbox);
      outbox.push({ userId: 'u_batch', type: 'order.updated', coalesceKey: 'order:o1', data: { userId: 'u_batch', orderId: 'o1', status: 'processing' } });
      outbox.push({ userId: 'u_other', type: 'order.updated', coalesceKey: 'order:o2', data: { userId: 'u_other', orderId: 'o2', status: 'succeeded' } });
      await applyCreditDelta(trx, { userId: 'u_batch', orderId: null, delta: 5, reason: 'grant' }, outbox);
      outbox.push({ userId: 'u_batch', type: 'order.updated', coalesceKey: 'order:o1', data: { userId: 'u_batch', orderId: 'o1', status: 'succeeded' } });
      expect(await trx.selectFrom('host_deliveries').select('id').where('user_id', '=', 'u_batch').execute()).toEqual([]);
      await writeHostMessages(trx, outbox);
    });
    const batch = await deliveriesOf('u_batch');
    expect(batch.map((d) => [Number(d.sequence), d.type, d.payload.data])).toEqual([
      [1, 'entitlements.updated', expect.objectContaining({ userId: 'u_batch', credits: 15 })],
      [2, 'order.updated', { userId: 'u_batch', orderId: 'o1', status: 'succeeded' }],
    ]);
    expect((await deliveriesOf('u_other')).map((d) => Number(d.sequence))).toEqual([1]);

    // A message written at once earlier in the same transaction keeps its number; the batch's replaces its data.
    await t.db.transaction().execute(async (trx) => {
      await enqueueEntitlementsUpdated(trx, 'u_batch');
      await applyCreditDelta(trx, { userId: 'u_batch', orderId: null, delta: 1, reason: 'grant' }, []);
      await writeHostMessages(trx, [entitlementsUpdatedDraft('u_batch')]);
    });
    const after = await deliveriesOf('u_batch');
    expect(after.map((d) => [Number(d.sequence), d.type])).toEqual([[1, 'entitlements.updated'], [2, 'order.updated'], [3, 'entitlements.updated']]);
    expect(after[2]!.payload.data).toMatchObject({ credits: 16 });
    expect(await t.db.transaction().execute((trx) => writeHostMessages(trx, []))).toBeUndefined();
  });
});
