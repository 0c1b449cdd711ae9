import { TEST_BACKENDS } from '@settle/db/testing';
import type { StripeSimulator } from '@settle/stripe-simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appRouter } from '../src/trpc/root.js';
import { createCallerFactory } from '../src/trpc/trpc.js';
import { adminClient, startApiWithSimulator, trpcClient, userToken, waitForInbox, type TestApi } from './harness.js';

/**
 * The contract has one Order shape. `orders.get` / `admin.orders.get` show a paid order with its
 * invoice and (plan orders) its subscription; every other place that returns "an order" must show
 * the same order, not a version with those fields blanked to null.
 */
describe.each(TEST_BACKENDS)('every view of one order is the same order on %s', (kind) => {
  let api: TestApi;
  let simulator: StripeSimulator;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ api, simulator, close } = await startApiWithSimulator(kind));
  });
  afterAll(async () => {
    await close?.();
  });

  async function paid(userId: string, productId: 'hobby' | 'credits10') {
    const client = trpcClient(api.url, await userToken(userId));
    const { orderId, checkoutSessionId } = await client.checkout.create.mutate({ productId });
    await simulator.runJourney(productId === 'hobby' ? 'subscription_renew' : 'card_success', checkoutSessionId);
    await waitForInbox(api.db);
    const got = await client.orders.get.query({ orderId });
    expect(got.status).toBe('succeeded');
    expect(got.invoice).not.toBeNull();
    return { client, orderId, got };
  }

  it('orders.list shows a plan order with the subscription orders.get shows', async () => {
    const { client, orderId, got } = await paid(`views_list_${kind}`, 'hobby');
    expect(got.subscription).toMatchObject({ plan: 'hobby', status: 'active' });
    const listed = (await client.orders.list.query({})).items.find((o) => o.orderId === orderId);
    expect(listed?.subscription).toEqual(got.subscription);
  });

  it('orders.onStatus streams a plan order with the subscription orders.get shows', async () => {
    const userId = `views_stream_${kind}`;
    const { orderId, got } = await paid(userId, 'hobby');
    const caller = createCallerFactory(appRouter)({ deps: api.settle.deps, user: { id: userId, access: 'full' }, admin: null });
    const ac = new AbortController();
    const onStatus = caller.orders.onStatus as unknown as (input: { orderId: string }, opts: { signal: AbortSignal }) => Promise<AsyncIterableIterator<typeof got>>;
    const stream = (await onStatus({ orderId }, { signal: ac.signal }))[Symbol.asyncIterator]();
    const first = (await stream.next()).value as typeof got;
    ac.abort();
    void stream.return?.(undefined);
    expect(first.status).toBe('succeeded');
    expect(first.subscription).toEqual(got.subscription);
  });

  it('admin.orders.list shows the invoice (and subscription) admin.orders.get shows', async () => {
    const admin = await adminClient(api, `views-${kind}`, 'viewer');
    const card = await paid(`views_admin_card_${kind}`, 'credits10');
    const plan = await paid(`views_admin_plan_${kind}`, 'hobby');
    const items = (await admin.admin.orders.list.query({ limit: 200 })).items;
    for (const o of [card, plan]) {
      const detail = await admin.admin.orders.get.query({ orderId: o.orderId });
      const listed = items.find((i) => i.orderId === o.orderId);
      expect({ orderId: o.orderId, invoice: listed?.invoice, subscription: listed?.subscription }).toEqual({
        orderId: o.orderId,
        invoice: detail.order.invoice,
        subscription: detail.order.subscription,
      });
    }
  });
});
