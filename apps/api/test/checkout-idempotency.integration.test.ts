import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TEST_BACKENDS } from '@settle/db/testing';
import type { StripeSimulator } from '@settle/stripe-simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogueStripePrices, DEMO_PRODUCTS } from '../src/payments/product-catalogue.js';
import { startApi, trpcClient, userToken, WEBHOOK_SECRET, type TestApi } from './harness.js';

/** Stripe between the simulator and Settle, failing the next n Checkout Session creations with Stripe's 500. */
async function flakyStripe(target: string) {
  let failSessions = 0;
  let sessionsAsked = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        if (req.method === 'POST' && req.url === '/v1/checkout/sessions') {
          sessionsAsked += 1;
          if (failSessions > 0) {
            failSessions -= 1;
            res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { type: 'api_error', message: 'Stripe is having a bad minute' } }));
            return;
          }
        }
        const body = Buffer.concat(chunks);
        const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'connection', 'content-length'].includes(k)).map(([k, v]) => [k, String(v)]));
        const upstream = await fetch(`${target}${req.url}`, { method: req.method, headers, ...(body.length ? { body } : {}) });
        res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' }).end(Buffer.from(await upstream.arrayBuffer()));
      })();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    failNextSessions: (n: number) => void (failSessions = n),
    sessionsAsked: () => sessionsAsked,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe.each(TEST_BACKENDS)('checkout.create with an idempotencyKey on %s', (kind) => {
  let api: TestApi;
  let simulator: StripeSimulator;
  let stripe: Awaited<ReturnType<typeof flakyStripe>>;
  beforeAll(async () => {
    const { startStripeSimulator } = await import('@settle/stripe-simulator');
    simulator = await startStripeSimulator({ retryDelayMs: 20, prices: catalogueStripePrices(DEMO_PRODUCTS) });
    stripe = await flakyStripe(simulator.url);
    api = await startApi(kind, { STRIPE_SECRET_KEY: 'sk_test_settle', STRIPE_API_BASE: stripe.url, OPEN_ORDERS_PER_USER: '2' });
    simulator.configureWebhook({ url: `${api.url}/webhooks/stripe`, secret: WEBHOOK_SECRET });
  });
  afterAll(async () => {
    await api?.close();
    await stripe?.close();
    await simulator?.close();
  });
  const ordersOf = (userId: string) => api.db.selectFrom('orders').select(['id', 'status']).where('user_id', '=', userId).execute();
  const codeOf = (e: unknown) => (e as { data?: { code?: string } }).data?.code;

  it('a repeat answers the first call: the same order, session and URL, and Stripe is not asked again', async () => {
    const userId = `user_retry_${kind}`;
    const client = trpcClient(api.url, await userToken(userId));
    const first = await client.checkout.create.mutate({ productId: 'credits10', idempotencyKey: 'cart-7f3a' });
    const asked = stripe.sessionsAsked();
    const again = await client.checkout.create.mutate({ productId: 'credits10', idempotencyKey: 'cart-7f3a' });
    expect(again).toEqual(first);
    expect(stripe.sessionsAsked()).toBe(asked);
    expect(await ordersOf(userId)).toHaveLength(1);
    // Keys are per user: another user's same key is their own checkout.
    const other = await trpcClient(api.url, await userToken(`${userId}_other`)).checkout.create.mutate({ productId: 'credits10', idempotencyKey: 'cart-7f3a' });
    expect(other.orderId).not.toBe(first.orderId);
  });

  it('calls with one key at once open one order', async () => {
    const userId = `user_double_click_${kind}`;
    const client = trpcClient(api.url, await userToken(userId));
    const calls = await Promise.allSettled([1, 2, 3].map(() => client.checkout.create.mutate({ productId: 'credits10', idempotencyKey: 'double-click' })));
    const answered = calls.flatMap((c) => (c.status === 'fulfilled' ? [c.value] : []));
    expect(answered.length).toBeGreaterThan(0);
    expect(new Set(answered.map((a) => a.orderId)).size).toBe(1);
    // The others are told the checkout is still being opened (CONFLICT), never a 500.
    for (const c of calls) if (c.status === 'rejected') expect(codeOf(c.reason)).toBe('CONFLICT');
    expect(await ordersOf(userId)).toHaveLength(1);
    // Once it is open, a repeat gets it.
    const later = await client.checkout.create.mutate({ productId: 'credits10', idempotencyKey: 'double-click' });
    expect(later.orderId).toBe(answered[0]!.orderId);
  });

  it('the same key for another product or quantity is refused and opens nothing', async () => {
    const userId = `user_key_reuse_${kind}`;
    const client = trpcClient(api.url, await userToken(userId));
    await client.checkout.create.mutate({ productId: 'credits10', idempotencyKey: 'k1' });
    const wrongProduct = await client.checkout.create.mutate({ productId: 'hobby', idempotencyKey: 'k1' }).then(() => null, (e: unknown) => e);
    expect(codeOf(wrongProduct)).toBe('CONFLICT');
    expect(String((wrongProduct as Error).message)).toContain('another checkout');
    const wrongQuantity = await client.checkout.create.mutate({ productId: 'credits10', quantity: 2, idempotencyKey: 'k1' }).then(() => null, (e: unknown) => e);
    expect(codeOf(wrongQuantity)).toBe('CONFLICT');
    expect(await ordersOf(userId)).toHaveLength(1);
    // A key with spaces or control characters is bad input.
    expect(codeOf(await client.checkout.create.mutate({ productId: 'credits10', idempotencyKey: 'has space' }).then(() => null, (e: unknown) => e))).toBe('BAD_REQUEST');
  });

  it('after Stripe refused the first call, a retry with the same key opens the checkout', async () => {
    const userId = `user_stripe_down_${kind}`;
    const client = trpcClient(api.url, await userToken(userId));
    stripe.failNextSessions(3); // the SDK's own retries too
    const refused = await client.checkout.create.mutate({ productId: 'credits10', idempotencyKey: 'retry-me' }).then(() => null, (e: unknown) => e);
    expect(codeOf(refused)).toBe('SERVICE_UNAVAILABLE');
    const retried = await client.checkout.create.mutate({ productId: 'credits10', idempotencyKey: 'retry-me' });
    expect(retried.url).toMatch(/^http/);
    const orders = await ordersOf(userId);
    expect(orders.map((o) => o.status).sort()).toEqual(['canceled', 'pending']);
    expect(orders.find((o) => o.status === 'pending')!.id).toBe(retried.orderId);
  });

  it('a repeat is not a new checkout: the open-orders cap does not refuse it', async () => {
    const userId = `user_capped_${kind}`;
    const client = trpcClient(api.url, await userToken(userId));
    const a = await client.checkout.create.mutate({ productId: 'credits10', idempotencyKey: 'a' });
    await client.checkout.create.mutate({ productId: 'credits10', idempotencyKey: 'b' });
    expect((await client.checkout.create.mutate({ productId: 'credits10', idempotencyKey: 'a' })).orderId).toBe(a.orderId);
    expect(codeOf(await client.checkout.create.mutate({ productId: 'credits10', idempotencyKey: 'c' }).then(() => null, (e: unknown) => e))).toBe('TOO_MANY_REQUESTS');
  });
});
