import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appRouter } from '../src/trpc/root.js';
import { createCallerFactory } from '../src/trpc/trpc.js';
import { seedOrder, startApi, trpcClient, userToken, type TestApi } from './harness.js';

/** What a frontend sees of its user's orders: the list as `orders.get`, and live status without delay. */
describe('orders.list and orders.onStatus for the end user', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi('pglite');
  });
  afterAll(async () => {
    await api?.close();
  });

  it('orders.list shows the same invoice as orders.get', async () => {
    const order = await seedOrder(api.db, { userId: 'inv_user' });
    await api.db.updateTable('orders').set({ status: 'succeeded', paid_at: new Date() }).where('id', '=', order.id).execute();
    await api.db.insertInto('invoices').values({
      id: 'in_test_list_1', order_id: order.id, number: 'INV-0001', status: 'paid', hosted_invoice_url: 'https://x/inv', invoice_pdf: 'https://x/inv.pdf',
      amount_due: 995, amount_paid: 995, currency: 'usd', subscription_id: null, stripe_created: new Date(), finalized_at: new Date(), paid_at: new Date(),
    }).execute();
    const client = trpcClient(api.url, await userToken('inv_user'));
    expect((await client.orders.get.query({ orderId: order.id })).invoice?.id).toBe('in_test_list_1');
    expect((await client.orders.list.query({})).items.find((o) => o.orderId === order.id)?.invoice?.id).toBe('in_test_list_1');
  });

  it('a change announced while the stream is between reads is pushed at once, not at the 15 s re-read', async () => {
    const order = await seedOrder(api.db, { userId: 'live_a' });
    const caller = createCallerFactory(appRouter)({ deps: api.settle.deps, user: { id: 'live_a', access: 'full' }, admin: null });
    const ac = new AbortController();
    // The server-side caller takes the request's abort signal as tRPC passes it to the procedure.
    const onStatus = caller.orders.onStatus as unknown as (input: { orderId: string }, opts: { signal: AbortSignal }) => Promise<AsyncIterableIterator<{ status: string }>>;
    const stream = await onStatus({ orderId: order.id }, { signal: ac.signal });
    const it = stream[Symbol.asyncIterator]();
    expect((await it.next()).value.status).toBe('pending');
    // The stream is suspended at its yield (the first value being written); the order changes now.
    await api.db.updateTable('orders').set({ status: 'processing', updated_at: new Date() }).where('id', '=', order.id).execute();
    api.settle.deps.orderChanges.publish(order.id);
    const t0 = Date.now();
    const next = await Promise.race([it.next(), new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 20_000))]);
    const waited = Date.now() - t0;
    ac.abort();
    void it.return?.(undefined);
    expect(waited).toBeLessThan(2_000);
    expect((next as IteratorResult<{ status: string }>).value.status).toBe('processing');
  }, 30_000);
});
