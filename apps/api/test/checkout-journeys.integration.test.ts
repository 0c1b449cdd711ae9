import { randomUUID } from 'node:crypto';
import { TEST_BACKENDS } from '@settle/db/testing';
import { EXPECTED_OUTCOME, PAYMENT_JOURNEYS, type StripeSimulator } from '@settle/stripe-simulator';
import { createAdminToken } from '@settle/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderState, startApiWithSimulator, trpcClient, userToken, waitForInbox, type TestApi } from './harness.js';

describe.each(TEST_BACKENDS)('checkout and every journey through the Stripe simulator on %s', (kind) => {
  let api: TestApi;
  let simulator: StripeSimulator;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ api, simulator, close } = await startApiWithSimulator(kind));
  });
  afterAll(async () => {
    await close?.();
  });

  async function checkout(userId: string, quantity = 1) {
    const client = trpcClient(api.url, await userToken(userId));
    return { client, ...(await client.checkout.create.mutate({ productId: 'credits10', quantity })) };
  }

  it.each(PAYMENT_JOURNEYS)('%s ends as expected, with duplicates and shuffled delivery', async (journey) => {
    const userId = `user_${journey}_${kind}`;
    const { client, orderId, checkoutSessionId, url } = await checkout(userId);
    expect(url).toMatch(/^http/);
    const session = await simulator.runJourney(journey, checkoutSessionId, { duplicates: 0.5, shuffle: true, seed: journey.length });
    expect(session.events.length).toBeGreaterThan(0);
    await waitForInbox(api.db);
    const expected = EXPECTED_OUTCOME[journey].new;
    const order = await client.orders.get.query({ orderId });
    expect(order.status).toBe(expected.status);
    expect(order.handler).toBe('new');
    expect(order.checkoutSessionId).toBe(checkoutSessionId);
    const { grants } = await orderState(api.db, orderId);
    expect(grants).toHaveLength(expected.grants);
    expect(grants.some((g) => g.credits_revoked > 0)).toBe(expected.revoked);
    expect(order.invoice !== null).toBe(expected.invoice);
    if (expected.invoice) expect(order.invoice).toMatchObject({ url: expect.stringMatching(/^https:/), pdfUrl: expect.stringMatching(/pdf/) });
    const ent = await client.entitlements.get.query();
    // 10 credits; half of 995 refunded takes back floor(10 * 497 / 995) = 4 of them.
    const credits = expected.grants === 0 ? 0 : expected.status === 'refunded' || expected.status === 'charged_back' ? 0 : expected.status === 'partially_refunded' ? 6 : 10;
    expect(ent.credits).toBe(credits);
    if (order.status === 'succeeded') expect(order.paidAt).not.toBeNull();
  });

  it('creates the Stripe session with the order id, the user, an invoice and one customer per user', async () => {
    const first = await checkout('user_meta', 2);
    const second = await checkout('user_meta');
    const s1 = simulator.state.checkoutSessions.get(first.checkoutSessionId)!;
    const s2 = simulator.state.checkoutSessions.get(second.checkoutSessionId)!;
    expect(s1).toMatchObject({ mode: 'payment', client_reference_id: 'user_meta', metadata: { orderId: first.orderId }, amount_total: 1990 });
    expect(s1.invoice_creation).toMatchObject({ enabled: true });
    expect(s1.customer).toBe(s2.customer);
    const order = await first.client.orders.get.query({ orderId: first.orderId });
    expect(order).toMatchObject({ amount: 1990, currency: 'usd', quantity: 2, status: 'pending' });
    // What it was sold with is kept on it: refunds take back by it, whatever the catalogue becomes.
    expect((await orderState(api.db, first.orderId)).order.grant_spec).toEqual({ kind: 'credits', credits: 20, partialRefund: 'proportional' });
  });

  it('shows an order to its owner only, validates input, and pages a user\'s orders', async () => {
    const { orderId } = await checkout('owner_a');
    const stranger = trpcClient(api.url, await userToken('owner_b'));
    await expect(stranger.orders.get.query({ orderId })).rejects.toMatchObject({ data: { code: 'NOT_FOUND' } });
    await expect(stranger.orders.get.query({ orderId: 'not-a-uuid' })).rejects.toMatchObject({
      data: { code: 'BAD_REQUEST', fieldErrors: [{ path: 'orderId' }] },
    });
    await expect(trpcClient(api.url).orders.get.query({ orderId })).rejects.toMatchObject({ data: { code: 'UNAUTHORIZED' } });
    await expect(trpcClient(api.url, 'garbage.token.here').orders.list.query({})).rejects.toMatchObject({ data: { code: 'UNAUTHORIZED' } });
    // The scheme name is case-insensitive (RFC 9110): `bearer` is `Bearer`.
    const lower = await fetch(`${api.url}/trpc/orders.get?input=${encodeURIComponent(JSON.stringify({ orderId }))}`, { headers: { authorization: `bearer ${await userToken('owner_a')}` } });
    expect(lower.status).toBe(200);
    await expect(stranger.checkout.create.mutate({ productId: 'nope' })).rejects.toMatchObject({ data: { code: 'NOT_FOUND' } });
    await expect(stranger.checkout.create.mutate({ productId: 'credits10', quantity: 0 })).rejects.toMatchObject({ data: { code: 'BAD_REQUEST' } });

    const pager = trpcClient(api.url, await userToken('pager'));
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await pager.checkout.create.mutate({ productId: 'credits10' })).orderId);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { items: { orderId: string }[]; nextCursor: string | null } = await pager.orders.list.query({ limit: 2, cursor });
      seen.push(...page.items.map((i) => i.orderId));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen.sort()).toEqual(ids.sort());
  });

  it('refunds through Stripe and lets the webhook move the order', async () => {
    const { client, orderId, checkoutSessionId } = await checkout('refund_user');
    await simulator.runJourney('card_success', checkoutSessionId);
    await waitForInbox(api.db);
    const { token } = await createAdminToken(api.db, { name: `ops-${kind}-refund`, role: 'operator', createdBy: 'test' });
    const admin = trpcClient(api.url, token);
    const requestId = randomUUID();
    const r = await admin.admin.orders.refund.mutate({ orderId, amount: 300, reason: 'customer asked', requestId });
    expect(r.amount).toBe(300);
    // Double click: the same request id is the same idempotency key, so Stripe refunds once.
    const again = await admin.admin.orders.refund.mutate({ orderId, amount: 300, reason: 'customer asked', requestId });
    expect(again.refundId).toBe(r.refundId);
    await new Promise((res) => setTimeout(res, 200));
    await waitForInbox(api.db);
    const order = await client.orders.get.query({ orderId });
    expect(order).toMatchObject({ status: 'partially_refunded', amountRefunded: 300 });
    await expect(admin.admin.orders.refund.mutate({ orderId, amount: 10_000, reason: 'too much' })).rejects.toMatchObject({ data: { code: 'BAD_REQUEST' } });
  });

  it('reconciles an order whose webhooks were never delivered', async () => {
    const { client, orderId, checkoutSessionId } = await checkout('lost_webhooks');
    await simulator.runJourney('card_success', checkoutSessionId, { deliver: false });
    await waitForInbox(api.db);
    expect((await client.orders.get.query({ orderId })).status).toBe('pending');
    // The janitor picks stuck orders by age: make this one old enough.
    await api.db.updateTable('orders').set({ created_at: new Date(Date.now() - 2 * 86_400_000) }).where('id', '=', orderId).execute();
    const run = await api.settle.deps.reconciler.runOnce('test');
    expect(run.disagreements).toBeGreaterThanOrEqual(1);
    const { order, grants, transitions } = await orderState(api.db, orderId);
    expect(order.status).toBe('succeeded');
    expect(grants).toHaveLength(1);
    expect(transitions.at(-1)).toMatchObject({ cause: 'reconciler', actor: 'reconciler', to_status: 'succeeded' });
    const drift = await api.settle.deps.reconciler.drift();
    expect(drift.disagreements24h).toBeGreaterThanOrEqual(1);
    // Reconciling again finds nothing more to do.
    const { token } = await createAdminToken(api.db, { name: `ops-${kind}-reconcile`, role: 'operator', createdBy: 'test' });
    const again = await trpcClient(api.url, token).admin.orders.reconcile.mutate({ orderId, reason: 'ticket 42: customer says paid' });
    expect(again.changed).toBe(false);
  });
});
