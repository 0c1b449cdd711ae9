/**
 * End to end over real HTTP: Settle (createSettle, on PGlite and PostgreSQL), the offline Stripe
 * simulator delivering signed events to it, and the example host app receiving Settle's signed
 * webhooks into its own database. Purchases go through checkout and the simulator; the test reads
 * the host's table and calls the host's own endpoints.
 */
import { randomBytes } from 'node:crypto';
import { TEST_BACKENDS } from '@settle/db/testing';
import type { StripeSimulator } from '@settle/stripe-simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JWT_SECRET, startApiWithSimulator, trpcClient, userToken, waitForInbox, type TestApi } from '../../../apps/api/test/harness.js';
import { createHostApp, type HostApp, type MirroredEntitlements } from '../src/host-app.js';

const WEBHOOK_SECRET = `whsec_${randomBytes(32).toString('base64')}`;

async function eventually<T>(read: () => Promise<T>, ok: (value: T) => boolean, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.each(TEST_BACKENDS)('the example host app against Settle on %s', (kind) => {
  let api: TestApi;
  let simulator: StripeSimulator;
  let host: HostApp;
  let hostUrl: string;
  let closeSettle: () => Promise<void>;

  beforeAll(async () => {
    // Settle needs the host's address before the host knows Settle's: take a port from the host
    // app range first. Until the host listens, Settle's deliveries fail and are retried.
    const hostPort = 4700 + Math.floor(Math.random() * 100);
    ({ api, simulator, close: closeSettle } = await startApiWithSimulator(kind, {
      HOST_WEBHOOK_URL: `http://127.0.0.1:${hostPort}/webhooks/settle`,
      HOST_WEBHOOK_SECRET: WEBHOOK_SECRET,
      HOST_WEBHOOK_RETRY_DELAYS_MS: '0,100,250',
    }));
    host = await createHostApp({ settleUrl: api.url, webhookSecret: WEBHOOK_SECRET, userJwtSecret: JWT_SECRET });
    hostUrl = await host.listen(hostPort);
  });
  afterAll(async () => {
    await closeSettle?.();
    await host?.close();
  });

  const mirrored = (userId: string, ok: (e: MirroredEntitlements | null) => boolean, what: string) =>
    eventually(() => host.entitlements(userId), ok, what);
  const asUser = (userId: string, path: string, init: RequestInit = {}) =>
    fetch(`${hostUrl}${path}`, { ...init, headers: { 'x-user-id': userId, ...init.headers } });

  async function buy(userId: string, productId: string, journey: Parameters<StripeSimulator['runJourney']>[0]) {
    const client = trpcClient(api.url, await userToken(userId));
    const { orderId, checkoutSessionId } = await client.checkout.create.mutate({ productId });
    await simulator.runJourney(journey, checkoutSessionId, { duplicates: 0.5, shuffle: true, seed: 3 });
    await waitForInbox(api.db);
    return orderId;
  }
  const hostOrderStatus = async (orderId: string) =>
    (await host.db.query<{ status: string }>('select status from settle_orders where order_id = $1', [orderId])).rows[0]?.status ?? null;

  it('mirrors a credit purchase, spends credits through Settle exactly once per key, and gates the pro report on the plan', async () => {
    const userId = `host_user_${kind}`;
    const orderId = await buy(userId, 'credits10', 'card_success');
    const afterPurchase = await mirrored(userId, (e) => e?.credits === 10, 'credits in the host table');
    expect(afterPurchase).toMatchObject({ credits: 10, plan: null });
    await eventually(() => hostOrderStatus(orderId), (s) => s === 'succeeded', 'the paid order in the host table');

    expect((await asUser(userId, '/reports/pro')).status).toBe(403);

    const exportOnce = (key: string) => asUser(userId, '/exports', { method: 'POST', headers: { 'idempotency-key': key } });
    const first = await exportOnce('export-1');
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ exported: true, creditsLeft: 7 });
    // The user double-clicked: the same key spends nothing more.
    expect(await (await exportOnce('export-1')).json()).toEqual({ exported: true, creditsLeft: 7 });
    expect(await (await exportOnce('export-2')).json()).toEqual({ exported: true, creditsLeft: 4 });
    expect(await (await exportOnce('export-3')).json()).toEqual({ exported: true, creditsLeft: 1 });
    const refused = await exportOnce('export-4');
    expect(refused.status).toBe(402);
    expect((await asUser(userId, '/exports', { method: 'POST' })).status).toBe(400);
    await mirrored(userId, (e) => e?.credits === 1, 'the spends in the host table');

    await buy(userId, 'pro', 'subscription_renew');
    const pro = await mirrored(userId, (e) => e?.plan === 'pro', 'the pro plan in the host table');
    expect(pro).toMatchObject({ credits: 1, plan: 'pro', subscriptionStatus: 'active' });
    expect(pro!.planPeriodEnd).toBeInstanceOf(Date);
    const report = await asUser(userId, '/reports/pro');
    expect(report.status).toBe(200);
    expect(await report.json()).toMatchObject({ report: `pro report for ${userId}` });

    // Settle and the host agree, and the host applied Settle's latest message for the user.
    const settleView = await trpcClient(api.url, await userToken(userId)).entitlements.get.query();
    expect({ credits: pro!.credits, plan: pro!.plan, subscriptionStatus: pro!.subscriptionStatus }).toEqual({
      credits: settleView.credits,
      plan: settleView.plan,
      subscriptionStatus: settleView.subscriptionStatus,
    });
    const latest = await api.db.selectFrom('host_deliveries').select(['sequence', 'state']).where('user_id', '=', userId).where('type', '=', 'entitlements.updated').orderBy('sequence', 'desc').executeTakeFirstOrThrow();
    await eventually(async () => (await host.entitlements(userId))?.sequence, (s) => s === Number(latest.sequence), 'the latest sequence');
  });

  it('a canceled subscription leaves the host without the plan', async () => {
    const userId = `host_canceled_${kind}`;
    await buy(userId, 'pro', 'subscription_cancel');
    const e = await mirrored(userId, (x) => x?.subscriptionStatus === 'canceled', 'the cancellation in the host table');
    expect(e).toMatchObject({ plan: null, subscriptionStatus: 'canceled' });
    expect((await asUser(userId, '/reports/pro')).status).toBe(403);
  });

  it('refuses a webhook that Settle did not sign', async () => {
    const forged = await fetch(`${hostUrl}/webhooks/settle`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'webhook-id': 'msg_forged', 'webhook-timestamp': String(Math.floor(Date.now() / 1000)), 'webhook-signature': 'v1,AAAA' },
      body: JSON.stringify({ type: 'entitlements.updated', timestamp: new Date().toISOString(), sequence: 999, data: { userId: 'mallory', credits: 1_000_000, plan: 'pro' } }),
    });
    expect(forged.status).toBe(400);
    expect(await host.entitlements('mallory')).toBeNull();
  });
});
