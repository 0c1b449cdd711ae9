import { saveStripeCustomer } from '@settle/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, trpcClient, userToken, type TestApi } from './harness.js';

/** Stripe cannot be reached (nothing listens at its address): the caller is told to try again, and nothing is left behind. */
describe('user procedures while Stripe is unreachable', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi('pglite', { STRIPE_SECRET_KEY: 'sk_test_unreachable', STRIPE_API_BASE: 'http://127.0.0.1:9' });
  });
  afterAll(async () => {
    await api?.close();
  });
  const codeOf = (e: unknown) => (e as { data?: { code?: string } }).data?.code;

  it('a first checkout (its Stripe customer not made yet) answers SERVICE_UNAVAILABLE and opens no order', async () => {
    const client = trpcClient(api.url, await userToken('new_buyer'));
    expect(codeOf(await client.checkout.create.mutate({ productId: 'credits10' }).then(() => null, (e: unknown) => e))).toBe('SERVICE_UNAVAILABLE');
    expect(await api.db.selectFrom('orders').select('id').where('user_id', '=', 'new_buyer').execute()).toEqual([]);
  }, 60_000);

  it('a checkout of a known customer answers SERVICE_UNAVAILABLE too', async () => {
    await saveStripeCustomer(api.db, 'old_buyer', 'cus_known');
    const client = trpcClient(api.url, await userToken('old_buyer'));
    expect(codeOf(await client.checkout.create.mutate({ productId: 'credits10' }).then(() => null, (e: unknown) => e))).toBe('SERVICE_UNAVAILABLE');
  }, 60_000);

  it('billing.portal answers SERVICE_UNAVAILABLE', async () => {
    await saveStripeCustomer(api.db, 'portal_user', 'cus_portal');
    const client = trpcClient(api.url, await userToken('portal_user'));
    expect(codeOf(await client.billing.portal.mutate().then(() => null, (e: unknown) => e))).toBe('SERVICE_UNAVAILABLE');
  }, 60_000);
});
