import { randomUUID } from 'node:crypto';
import { sql } from '@settle/db';
import { TEST_BACKENDS } from '@settle/db/testing';
import { event } from '@settle/stripe-simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminClient, orderState, seedOrder, send, startApi, waitForInbox, type TestApi } from './harness.js';

/** Basil-shaped events for one payment of an order (amount in minor units). */
function payment(orderId: string, amount = 995) {
  const pi = `pi_${randomUUID().replaceAll('-', '')}`;
  const ch = `ch_${randomUUID().replaceAll('-', '')}`;
  return {
    succeeded: (at: number, received = amount) =>
      event('payment_intent.succeeded', at, { id: pi, object: 'payment_intent', amount: received, amount_received: received, currency: 'usd', created: at, latest_charge: ch, metadata: { orderId }, status: 'succeeded', last_payment_error: null }, ''),
    refunded: (at: number) =>
      event('charge.refunded', at, { id: ch, object: 'charge', amount, amount_refunded: amount, currency: 'usd', created: at, payment_intent: pi, refunded: true, status: 'succeeded', metadata: {} }, ''),
  };
}

/**
 * An admin override moves grants to where the order goes, whatever it went through before: an
 * order parked for review may hold its grant or not, and a refunded one may turn out paid.
 */
describe.each(TEST_BACKENDS)('what an admin override does to credits on %s', (kind) => {
  let api: TestApi;
  let admin: Awaited<ReturnType<typeof adminClient>>;
  const t0 = Math.floor(Date.now() / 1000) - 1000;
  beforeAll(async () => {
    api = await startApi(kind);
    admin = await adminClient(api, `ops_override_${kind}`);
  });
  afterAll(async () => {
    await api?.close();
  });

  const credits = async (userId: string) =>
    Number((await sql<{ c: number }>`select coalesce(sum(delta), 0)::int as c from credit_ledger where user_id = ${userId}`.execute(api.db)).rows[0]?.c ?? 0);
  const override = (orderId: string, to: 'refunded' | 'succeeded' | 'needs_review' | 'failed', reason: string) => admin.admin.orders.override.mutate({ orderId, to, reason });

  it('an underpaid order parked for review, refunded and marked refunded, grants nothing', async () => {
    const userId = `u_override_underpaid_${kind}`;
    const order = await seedOrder(api.db, { userId });
    expect((await send(api, payment(order.id).succeeded(t0, 500))).status).toBe(200);
    await waitForInbox(api.db);
    expect((await orderState(api.db, order.id)).order.status).toBe('needs_review');
    await override(order.id, 'refunded', 'underpaid; refunded the 500 in Stripe');
    expect(await credits(userId)).toBe(0);
    expect((await orderState(api.db, order.id)).grants).toEqual([]);
  });

  it('a granted order parked for review by an admin, then marked refunded, loses its credits', async () => {
    const userId = `u_override_parked_${kind}`;
    const order = await seedOrder(api.db, { userId });
    expect((await send(api, payment(order.id).succeeded(t0))).status).toBe(200);
    await waitForInbox(api.db);
    expect(await credits(userId)).toBe(10);
    await override(order.id, 'needs_review', 'customer says the card was stolen; checking');
    expect(await credits(userId)).toBe(10);
    await override(order.id, 'refunded', 'refunded in full in the Stripe dashboard');
    expect((await orderState(api.db, order.id)).order.status).toBe('refunded');
    expect(await credits(userId)).toBe(0);
  });

  it('a refunded order marked succeeded (the refund bounced) gets its credits back, once', async () => {
    const userId = `u_override_bounced_${kind}`;
    const order = await seedOrder(api.db, { userId });
    const p = payment(order.id);
    for (const e of [p.succeeded(t0), p.refunded(t0 + 10)]) expect((await send(api, e)).status).toBe(200);
    await waitForInbox(api.db);
    expect((await orderState(api.db, order.id)).order.status).toBe('refunded');
    expect(await credits(userId)).toBe(0);
    await override(order.id, 'succeeded', 'refund bounced at the bank; the money is ours');
    const after = await orderState(api.db, order.id);
    expect(after.order.status).toBe('succeeded');
    expect(after.grants).toEqual([expect.objectContaining({ credits: 10, credits_revoked: 0, revoked_at: null })]);
    expect(await credits(userId)).toBe(10);
  });

  it('an order confirmed by hand, then marked failed, whose payment Stripe then confirms, holds its credits again', async () => {
    const userId = `u_override_failed_then_paid_${kind}`;
    const order = await seedOrder(api.db, { userId });
    await override(order.id, 'succeeded', 'SEPA settled, webhook lost');
    expect(await credits(userId)).toBe(10);
    await override(order.id, 'failed', 'the bank says the debit bounced');
    expect(await credits(userId)).toBe(0);
    // The debit did settle after all: Stripe's payment_intent.succeeded confirms the order.
    expect((await send(api, payment(order.id).succeeded(t0))).status).toBe(200);
    await waitForInbox(api.db);
    const after = await orderState(api.db, order.id);
    expect(after.order.status).toBe('succeeded');
    expect(after.grants).toEqual([expect.objectContaining({ credits: 10, credits_revoked: 0, revoked_at: null })]);
    expect(await credits(userId)).toBe(10);
  });
});
