import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, TEST_BACKENDS, type TestDatabase } from '../testing.js';
import { applyCreditDelta, applyCreditDeltas } from './grant.repository.js';
import { enqueueEntitlementsUpdated, entitlementsUpdatedDraft, writeHostMessages, type HostMessageDraft } from './host-outbox.repository.js';
import { upsertInvoice, upsertInvoices } from './invoice.repository.js';
import { insertOrder, lockOrdersByRefs, recordCustomerEmails } from './order.repository.js';
import type { NewInvoice } from '../tables/invoice.table.js';

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
  it('applies a batch\'s credit movements as if one by one: balances, debt and ledger in the order given', async () => {
    const ledgerOf = (userId: string) =>
      t.db.selectFrom('credit_ledger').select(['delta', 'reason', 'balance_after', 'debt_after']).where('user_id', '=', userId).orderBy('id').execute();
    await t.db.transaction().execute((trx) => applyCreditDelta(trx, { userId: 'u_set_old', orderId: null, delta: 4, reason: 'grant' }));
    const after = await t.db.transaction().execute((trx) =>
      applyCreditDeltas(trx, [
        { userId: 'u_set_new', orderId: null, delta: 5, reason: 'grant' },
        { userId: 'u_set_old', orderId: null, delta: -6, reason: 'refund' },
        { userId: 'u_set_new', orderId: null, delta: -8, reason: 'refund' },
        { userId: 'u_set_new', orderId: null, delta: 10, reason: 'grant' },
        { userId: 'u_set_old', orderId: null, delta: 1, reason: 'restore' },
      ]),
    );
    expect(after).toEqual([
      { balance: 5, debt: 0 },
      { balance: 0, debt: 2 },
      { balance: 0, debt: 3 },
      { balance: 7, debt: 0 },
      { balance: 0, debt: 1 },
    ]);
    expect((await ledgerOf('u_set_new')).map((r) => [r.delta, r.reason, Number(r.balance_after), Number(r.debt_after)])).toEqual([
      [5, 'grant', 5, 0],
      [-8, 'refund', 0, 3],
      [10, 'grant', 7, 0],
    ]);
    expect((await ledgerOf('u_set_old')).map((r) => [r.delta, Number(r.balance_after), Number(r.debt_after)])).toEqual([[4, 4, 0], [-6, 0, 2], [1, 0, 1]]);
    const rows = await t.db.selectFrom('entitlements').select(['user_id', 'credits', 'credit_debt']).where('user_id', 'in', ['u_set_new', 'u_set_old']).orderBy('user_id').execute();
    expect(rows.map((r) => [r.user_id, Number(r.credits), Number(r.credit_debt)])).toEqual([['u_set_new', 7, 0], ['u_set_old', 0, 1]]);
    expect(await t.db.transaction().execute((trx) => applyCreditDeltas(trx, []))).toEqual([]);
  });

  it('upserts a batch\'s invoices as if one by one, the same invoice mentioned again included', async () => {
    const invoice = (id: string, over: Partial<NewInvoice>): NewInvoice => ({
      id,
      order_id: null,
      number: null,
      status: 'open',
      hosted_invoice_url: null,
      invoice_pdf: null,
      amount_due: 995,
      amount_paid: 0,
      currency: 'usd',
      subscription_id: null,
      stripe_created: new Date('2026-11-01T00:00:00Z'),
      finalized_at: null,
      paid_at: null,
      ...over,
    });
    const steps = (id: string) => [
      invoice(id, { number: 'N-1', finalized_at: new Date('2026-11-01T00:01:00Z') }),
      invoice(id, { status: 'paid', amount_paid: 995, paid_at: new Date('2026-11-01T00:02:00Z'), hosted_invoice_url: 'https://pay/1' }),
      invoice(id, { status: 'open', finalized_at: new Date('2026-11-01T00:03:00Z') }),
    ];
    await t.db.transaction().execute(async (trx) => {
      for (const step of steps('in_one_by_one')) await upsertInvoice(trx, step);
      await upsertInvoices(trx, [...steps('in_batched'), invoice('in_other', { amount_due: 5 })]);
      await upsertInvoices(trx, []);
    });
    const rows = await t.db.selectFrom('invoices').selectAll().where('id', 'in', ['in_one_by_one', 'in_batched', 'in_other']).orderBy('id').execute();
    const comparable = ({ id: _id, updated_at: _at, ...rest }: (typeof rows)[number]) => rest;
    const byId = new Map(rows.map((r) => [r.id, r]));
    expect(comparable(byId.get('in_batched')!)).toEqual(comparable(byId.get('in_one_by_one')!));
    expect(byId.get('in_batched')).toMatchObject({ status: 'paid', amount_paid: 995, number: 'N-1', hosted_invoice_url: 'https://pay/1' });
    expect(byId.get('in_other')).toMatchObject({ amount_due: 5, status: 'open' });
  });
});
