import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, TEST_BACKENDS, type TestDatabase } from '../testing.js';
import { applyCreditDelta, applyCreditDeltas, insertGrantsOnce, lockGrantsOfOrders, updateGrantRevocations } from './grant.repository.js';
import { enqueueEntitlementsUpdated, entitlementsUpdatedDraft, lockEntitlements, writeHostMessages, type HostMessageDraft } from './host-outbox.repository.js';
import { findInvoiceForOrder, findInvoicesForOrders, upsertInvoice, upsertInvoices } from './invoice.repository.js';
import { findOrder, insertOrder, lockOrdersByRefs, recordCustomerEmails, updateOrderRows } from './order.repository.js';
import { listRefundsForOrders, upsertRefund } from './refund.repository.js';
import { findSubscriptionForOrder, findSubscriptionsForOrders } from './subscription.repository.js';
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
      // As a batch drafts them: each credit movement with its entitlements message, applied at flush.
      const outbox: HostMessageDraft[] = [entitlementsUpdatedDraft('u_batch')];
      outbox.push({ userId: 'u_batch', type: 'order.updated', coalesceKey: 'order:o1', data: { userId: 'u_batch', orderId: 'o1', status: 'processing' } });
      outbox.push({ userId: 'u_other', type: 'order.updated', coalesceKey: 'order:o2', data: { userId: 'u_other', orderId: 'o2', status: 'succeeded' } });
      outbox.push(entitlementsUpdatedDraft('u_batch'));
      outbox.push({ userId: 'u_batch', type: 'order.updated', coalesceKey: 'order:o1', data: { userId: 'u_batch', orderId: 'o1', status: 'succeeded' } });
      await applyCreditDeltas(trx, [
        { userId: 'u_batch', orderId: null, delta: 10, reason: 'grant' },
        { userId: 'u_batch', orderId: null, delta: 5, reason: 'grant' },
      ]);
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
      await applyCreditDeltas(trx, [{ userId: 'u_batch', orderId: null, delta: 1, reason: 'grant' }]);
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
  it('writes many orders\' decided columns in one statement and returns the rows as written', async () => {
    const a = await order('u_rows', null);
    const b = await order('u_rows', 'pi_rows_b');
    const untouched = await order('u_rows', null);
    const paidAt = new Date('2026-11-02T10:00:00Z');
    const written = await t.db.transaction().execute((trx) =>
      updateOrderRows(trx, [
        { ...a, status: 'succeeded', payment_intent_id: 'pi_rows_a', status_stripe_at: paidAt, paid_at: paidAt },
        { ...b, status: 'refunded', amount_refunded: 995, dispute_id: 'dp_1', dispute_status: 'lost', status_before_dispute: 'succeeded', review_reason: 'r', failure_reason: 'f' },
      ], new Map([[a.id, 'buyer@example.com'], [untouched.id, 'not-written@example.com']])),
    );
    // A recorded e-mail stays (the first one wins).
    const writtenA = written.find((r) => r.id === a.id)!;
    expect(writtenA).toMatchObject({ customer_email: 'buyer@example.com', payment_intent_id: 'pi_rows_a' });
    await t.db.transaction().execute((trx) => updateOrderRows(trx, [writtenA], new Map([[a.id, 'later@example.com']])));
    expect(written.map((r) => r.id).sort()).toEqual([a.id, b.id].sort());
    expect(await findOrder(t.db, a.id)).toMatchObject({ status: 'succeeded', payment_intent_id: 'pi_rows_a', paid_at: paidAt, status_stripe_at: paidAt, checkout_session_id: a.checkout_session_id, customer_email: 'buyer@example.com' });
    const rowB = await findOrder(t.db, b.id);
    expect(rowB).toMatchObject({ status: 'refunded', dispute_id: 'dp_1', dispute_status: 'lost', status_before_dispute: 'succeeded', review_reason: 'r', failure_reason: 'f', paid_at: null });
    expect(Number(rowB!.amount_refunded)).toBe(995);
    expect(rowB!.updated_at.getTime()).toBeGreaterThan(b.updated_at.getTime());
    expect(rowB!.customer_email).toBeNull();
    expect(await findOrder(t.db, untouched.id)).toEqual(untouched);
    expect(await t.db.transaction().execute((trx) => updateOrderRows(trx, []))).toEqual([]);
  });

  it('locks the grants of many orders, inserts grants once per order and kind, and writes revocations together', async () => {
    const a = await order('u_grants', null);
    const b = await order('u_grants', null);
    const grant = (orderId: string, kind: 'credits' | 'plan') => ({
      order_id: orderId, user_id: 'u_grants', kind, credits: kind === 'credits' ? 10 : 0, plan: kind === 'plan' ? 'pro' : null, event_id: 'evt_g', revoked_at: null,
    });
    const first = await t.db.transaction().execute((trx) => insertGrantsOnce(trx, [grant(a.id, 'credits')]));
    expect(first.map((g) => [g.order_id, g.kind])).toEqual([[a.id, 'credits']]);
    const revokedAt = new Date('2026-11-03T00:00:00Z');
    const second = await t.db.transaction().execute((trx) =>
      insertGrantsOnce(trx, [grant(a.id, 'credits'), grant(a.id, 'plan'), { ...grant(b.id, 'credits'), credits_revoked: 10, revoked_at: revokedAt }]),
    );
    expect(second.map((g) => [g.order_id, g.kind]).sort()).toEqual([[a.id, 'plan'], [b.id, 'credits']].sort());
    expect(second.find((g) => g.order_id === b.id)).toMatchObject({ credits_revoked: 10, revoked_at: revokedAt });
    const locked = await t.db.transaction().execute(async (trx) => {
      const rows = await lockGrantsOfOrders(trx, [a.id, b.id]);
      const aCredits = rows.find((g) => g.order_id === a.id && g.kind === 'credits')!;
      const bCredits = rows.find((g) => g.order_id === b.id)!;
      await updateGrantRevocations(trx, [
        { id: aCredits.id, credits_revoked: 4, revoked_at: null },
        { id: bCredits.id, credits_revoked: 0, revoked_at: null },
      ]);
      await updateGrantRevocations(trx, []);
      return rows;
    });
    expect(locked.map((g) => [g.order_id, g.kind]).sort()).toEqual([[a.id, 'credits'], [a.id, 'plan'], [b.id, 'credits']].sort());
    const after = await t.db.selectFrom('grants').select(['order_id', 'kind', 'credits_revoked', 'revoked_at']).where('order_id', 'in', [a.id, b.id]).execute();
    expect(after.map((g) => [g.order_id, g.kind, g.credits_revoked, g.revoked_at]).sort()).toEqual(
      [[a.id, 'credits', 4, null], [a.id, 'plan', 0, null], [b.id, 'credits', 0, null]].sort(),
    );
    expect(await t.db.transaction().execute((trx) => lockGrantsOfOrders(trx, []))).toEqual([]);
    expect(await t.db.transaction().execute((trx) => insertGrantsOnce(trx, []))).toEqual([]);
  });

  it('lists the refunds of many orders in one read, oldest first, and returns a refund as upserted', async () => {
    const a = await order('u_refunds', 'pi_refunds_a');
    const b = await order('u_refunds', 'pi_refunds_b');
    const none = await order('u_refunds', null);
    const refund = (id: string, orderId: string, at: string) => ({
      id, order_id: orderId, payment_intent_id: 'pi_refunds', amount: 100, currency: 'usd', status: 'pending' as const, reason: null, failure_reason: null, stripe_created: new Date(at), undone_at: null,
    });
    await t.db.transaction().execute(async (trx) => {
      await upsertRefund(trx, refund('re_a2', a.id, '2026-11-02T00:00:00Z'));
      await upsertRefund(trx, refund('re_a1', a.id, '2026-11-01T00:00:00Z'));
      await upsertRefund(trx, refund('re_b1', b.id, '2026-11-01T00:00:00Z'));
      const moved = await upsertRefund(trx, { ...refund('re_a1', a.id, '2026-11-01T00:00:00Z'), status: 'succeeded' });
      expect(moved).toMatchObject({ id: 're_a1', status: 'succeeded' });
    });
    const lists = await listRefundsForOrders(t.db, [a.id, b.id, none.id]);
    expect([...lists].map(([id, list]) => [id, list.map((r) => r.id)])).toEqual([[a.id, ['re_a1', 're_a2']], [b.id, ['re_b1']], [none.id, []]]);
    expect(await listRefundsForOrders(t.db, [])).toEqual(new Map());
  });
  it('locks entitlement rows once for a batch\'s credit movements and host messages, which then tell the moved balances', async () => {
    await t.db.transaction().execute((trx) => applyCreditDelta(trx, { userId: 'u_lock_once_a', orderId: null, delta: 3, reason: 'grant' }));
    await t.db.transaction().execute(async (trx) => {
      const locked = await lockEntitlements(trx, ['u_lock_once_b', 'u_lock_once_a', 'u_lock_once_b']);
      expect([...locked.keys()]).toEqual(['u_lock_once_a', 'u_lock_once_b']);
      expect(Number(locked.get('u_lock_once_a')!.credits)).toBe(3);
      await applyCreditDeltas(trx, [{ userId: 'u_lock_once_a', orderId: null, delta: 2, reason: 'grant' }], locked);
      expect(Number(locked.get('u_lock_once_a')!.credits)).toBe(5);
      await writeHostMessages(trx, [entitlementsUpdatedDraft('u_lock_once_a'), entitlementsUpdatedDraft('u_lock_once_b'), entitlementsUpdatedDraft('u_lock_once_c')], locked);
    });
    expect((await deliveriesOf('u_lock_once_a')).map((d) => d.payload.data)).toEqual([expect.objectContaining({ credits: 3 }), expect.objectContaining({ credits: 5 })]);
    expect((await deliveriesOf('u_lock_once_b')).map((d) => d.payload.data)).toEqual([expect.objectContaining({ credits: 0 })]);
    expect((await deliveriesOf('u_lock_once_c')).map((d) => Number(d.sequence))).toEqual([1]);
    expect(await t.db.transaction().execute((trx) => lockEntitlements(trx, []))).toEqual(new Map());
  });
  it('reads the newest subscription of many orders in one read, as the one-order read does', async () => {
    const [a, b, none] = [await order('u_subs', null), await order('u_subs', null), await order('u_subs', null)];
    const subscription = (id: string, orderId: string, createdAt: string) =>
      t.db
        .insertInto('subscriptions')
        .values({ id, user_id: 'u_subs', order_id: orderId, product_id: 'pro', stripe_status: 'active', status: 'active', status_stripe_at: new Date(createdAt), created_at: new Date(createdAt) })
        .execute();
    // Order a was subscribed twice (a canceled plan, then a new Checkout on the same order): the newer one counts.
    await subscription('sub_a_old', a.id, '2026-01-01T00:00:00Z');
    await subscription('sub_a_new', a.id, '2026-02-01T00:00:00Z');
    await subscription('sub_b', b.id, '2026-01-15T00:00:00Z');
    const found = await findSubscriptionsForOrders(t.db, [a.id, b.id, none.id]);
    expect([...found].map(([orderId, s]) => [orderId, s.id]).sort()).toEqual([[a.id, 'sub_a_new'], [b.id, 'sub_b']].sort());
    for (const o of [a, b, none]) expect((await findSubscriptionForOrder(t.db, o.id))?.id).toBe(found.get(o.id)?.id);
    expect(await findSubscriptionsForOrders(t.db, [])).toEqual(new Map());
  });

  it("an order's invoice is its first one, not a plan's later renewal", async () => {
    const plan = await order('u_invoices', null);
    const once = await order('u_invoices', null);
    const invoice = (id: string, orderId: string, created: string, status: string): NewInvoice => ({
      id, order_id: orderId, number: id.toUpperCase(), status, hosted_invoice_url: null, invoice_pdf: null, amount_due: 999,
      amount_paid: status === 'paid' ? 999 : 0, currency: 'usd', subscription_id: orderId === plan.id ? 'sub_invoices' : null,
      stripe_created: new Date(created), finalized_at: null, paid_at: null,
    });
    await t.db.transaction().execute((trx) => upsertInvoices(trx, [
      invoice('in_renewal_open', plan.id, '2026-02-01T00:00:00Z', 'open'),
      invoice('in_first_paid', plan.id, '2026-01-01T00:00:00Z', 'paid'),
      invoice('in_once', once.id, '2026-01-05T00:00:00Z', 'paid'),
    ]));
    const found = await findInvoicesForOrders(t.db, [plan.id, once.id]);
    expect([found.get(plan.id)?.id, found.get(once.id)?.id]).toEqual(['in_first_paid', 'in_once']);
    expect((await findInvoiceForOrder(t.db, plan.id))?.id).toBe('in_first_paid');
  });
});
