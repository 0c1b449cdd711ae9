import { createAdminToken } from '@settle/db';
import { TEST_BACKENDS } from '@settle/db/testing';
import { journeyEvents } from '@settle/stripe-simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderState, seedOrder, send, startApi, trpcClient, waitForInbox, type TestApi } from './harness.js';

describe.each(TEST_BACKENDS)('console order filters on %s', (kind) => {
  let api: TestApi;
  let admin: ReturnType<typeof trpcClient>;
  beforeAll(async () => {
    api = await startApi(kind, { INVOICE_MISSING_AFTER_MIN: '60' });
    admin = trpcClient(api.url, (await createAdminToken(api.db, { name: `viewer-${kind}`, role: 'operator', createdBy: 'test' })).token);
  });
  afterAll(async () => {
    await api?.close();
  });

  it('flags a paid one-time order whose invoice has not come, until it comes', async () => {
    const order = await seedOrder(api.db);
    const events = journeyEvents('card_success', { orderId: order.id, checkoutSessionId: order.checkout_session_id!, amount: 995, currency: 'usd', startAt: Math.floor(Date.now() / 1000) - 7200 });
    for (const e of events.filter((x) => !x.type.startsWith('invoice.'))) await send(api, e);
    await waitForInbox(api.db);
    expect((await orderState(api.db, order.id)).order.status).toBe('succeeded');
    // Paid an hour and a half ago (the order was paid at the event's Stripe time, two hours ago).
    const flagged = await admin.admin.orders.list.query({ missingInvoice: true });
    expect(flagged.items.map((o) => o.orderId)).toContain(order.id);
    const metric = async () => Number((await (await fetch(`${api.url}/metrics`)).text()).match(/^settle_orders_missing_invoice (\d+)/m)?.[1]);
    expect(await metric()).toBeGreaterThanOrEqual(1);

    for (const e of events.filter((x) => x.type.startsWith('invoice.'))) await send(api, e);
    await waitForInbox(api.db);
    expect((await admin.admin.orders.list.query({ missingInvoice: true })).items.map((o) => o.orderId)).not.toContain(order.id);
    const detail = await admin.admin.orders.get.query({ orderId: order.id });
    expect(detail.order.invoice).toMatchObject({ url: expect.stringMatching(/^https:/) });
  });

  it('finds an order by the e-mail Checkout collected, whatever its case', async () => {
    const order = await seedOrder(api.db);
    const completed = journeyEvents('card_success', { orderId: order.id, checkoutSessionId: order.checkout_session_id!, amount: 995, currency: 'usd', startAt: Math.floor(Date.now() / 1000) })
      .find((e) => e.type === 'checkout.session.completed')!;
    (completed.data.object as { customer_details: { email: string } }).customer_details.email = `Buyer.${kind}@Example.com`;
    await send(api, completed);
    await waitForInbox(api.db);
    const found = await admin.admin.orders.list.query({ search: `buyer.${kind}@example.com` });
    expect(found.items.map((o) => o.orderId)).toEqual([order.id]);
  });
});
