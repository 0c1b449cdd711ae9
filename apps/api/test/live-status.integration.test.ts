import { createTestDatabase, TEST_BACKENDS, type TestDatabase } from '@settle/db/testing';
import { journeyEvents } from '@settle/stripe-simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedOrder, send, startApi, userToken, watchOrderStatus as watch, type TestApi } from './harness.js';
import { spawnApi, type ApiProcess } from './faults/cluster.js';



describe.each(TEST_BACKENDS)('orders.onStatus on %s', (kind) => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi(kind);
  });
  afterAll(async () => {
    await api?.close();
  });

  it('pushes the order now and on each change, to its owner only', async () => {
    const order = await seedOrder(api.db, { userId: 'live_user' });
    const token = await userToken('live_user');
    const events = journeyEvents('async_success', { orderId: order.id, checkoutSessionId: order.checkout_session_id!, amount: 995, currency: 'usd', startAt: Math.floor(Date.now() / 1000) - 100 });
    const watching = watch(api.url, token, order.id, (seen) => seen.at(-1)?.status === 'succeeded');
    await new Promise((r) => setTimeout(r, 200));
    await send(api, events.find((e) => e.type === 'checkout.session.completed'));
    await new Promise((r) => setTimeout(r, 200));
    await send(api, events.find((e) => e.type === 'payment_intent.succeeded'));
    const seen = await watching;
    expect(seen.map((o) => o.status)).toEqual(['pending', 'processing', 'succeeded']);

    await expect(watch(api.url, await userToken('someone_else'), order.id, () => true)).rejects.toThrow(/not found/i);
  });
});

describe.skipIf(!process.env.DATABASE_URL)('orders.onStatus across API instances', () => {
  let database: TestDatabase;
  let api: TestApi;
  let other: ApiProcess | undefined;
  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    api = await startApi('postgres', {}, { database });
    other = await spawnApi(database.url!);
  });
  afterAll(async () => {
    other?.proc.kill('SIGKILL');
    await api?.close();
    await database?.dispose();
  });

  it('delivers a change made by another process', async () => {
    const order = await seedOrder(api.db, { userId: 'cross_user' });
    const token = await userToken('cross_user');
    const watching = watch(api.url, token, order.id, (seen) => seen.at(-1)?.status === 'succeeded');
    await new Promise((r) => setTimeout(r, 300));
    const ev = journeyEvents('card_success', { orderId: order.id, checkoutSessionId: order.checkout_session_id!, amount: 995, currency: 'usd', startAt: Math.floor(Date.now() / 1000) })
      .find((e) => e.type === 'payment_intent.succeeded')!;
    // Delivered to the other process only: this one hears of it through LISTEN/NOTIFY.
    const r = await fetch(`${other!.url}/webhooks/stripe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': (await import('@settle/stripe-simulator')).signPayload(JSON.stringify(ev), 'whsec_test_settle_secret') },
      body: JSON.stringify(ev),
    });
    expect(r.status).toBe(200);
    const seen = await watching;
    expect(seen.map((o) => o.status)).toEqual(['pending', 'succeeded']);
  });
});
