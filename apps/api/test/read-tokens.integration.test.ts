import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TEST_BACKENDS } from '@settle/db/testing';
import { journeyEvents } from '@settle/stripe-simulator';
import { TRPCClientError } from '@trpc/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grantCredits, JWT_SECRET, seedOrder, send, snapshot, startApiWithSimulator, trpcClient, userToken, watchOrderStatus as watch, type TestApi } from './harness.js';

const API_DIR = fileURLToPath(new URL('..', import.meta.url));

/** `pnpm dev-token …` as a developer runs it, signing with the test API's secret; its last line. */
function devToken(...args: string[]): Promise<string> {
  return new Promise((done, fail) => {
    const env = { ...process.env, USER_JWT_SECRET: JWT_SECRET };
    execFile(join(API_DIR, '../../node_modules/.bin/tsx'), ['src/dev-token.ts', ...args], { cwd: API_DIR, env }, (err, stdout, stderr) =>
      err ? fail(new Error(`dev-token ${args.join(' ')}: ${err.message}\n${stderr}`)) : done(stdout.trim().split('\n').at(-1)!),
    );
  });
}

/** The tRPC code of a call's failure, or 'OK'; with the message, for the codes that must explain themselves. */
const outcome = (p: Promise<unknown>) =>
  p.then(
    () => ({ code: 'OK', message: '' }),
    (err: unknown) =>
      err instanceof TRPCClientError
        ? { code: (err.data as { code?: string } | undefined)?.code ?? 'NONE', message: err.message }
        : { code: 'NONE', message: String(err) },
  );
const codeOf = async (p: Promise<unknown>) => (await outcome(p)).code;


describe.each(TEST_BACKENDS)('read-only user tokens ("settle_scope": "read") on %s', (kind) => {
  let setup: Awaited<ReturnType<typeof startApiWithSimulator>>;
  let api: TestApi;
  beforeAll(async () => {
    setup = await startApiWithSimulator(kind);
    api = setup.api;
  });
  afterAll(async () => {
    await setup?.close();
  });

  it('reads entitlements, the ledger and orders, and streams an order’s status', async () => {
    await grantCredits(api.db, 'r_reader', 4);
    const order = await seedOrder(api.db, { userId: 'r_reader' });
    const token = await userToken('r_reader', { settle_scope: 'read' });
    const reader = trpcClient(api.url, token);

    expect((await reader.entitlements.get.query()).credits).toBe(4);
    expect((await reader.entitlements.ledger.query()).items.map((e) => e.delta)).toEqual([4]);
    expect((await reader.orders.list.query()).items.map((o) => o.orderId)).toEqual([order.id]);
    expect((await reader.orders.get.query({ orderId: order.id })).status).toBe('pending');

    const events = journeyEvents('async_success', { orderId: order.id, checkoutSessionId: order.checkout_session_id!, amount: 995, currency: 'usd', startAt: Math.floor(Date.now() / 1000) - 100 });
    const watching = watch(api.url, token, order.id, (seen) => seen.at(-1)?.status === 'succeeded');
    await new Promise((r) => setTimeout(r, 200));
    await send(api, events.find((e) => e.type === 'checkout.session.completed'));
    await new Promise((r) => setTimeout(r, 200));
    await send(api, events.find((e) => e.type === 'payment_intent.succeeded'));
    expect((await watching).map((o) => o.status)).toEqual(['pending', 'processing', 'succeeded']);
    expect((await reader.entitlements.get.query()).credits).toBe(14);
  });

  it('cannot spend credits, check out, open the billing portal or resume a plan: FORBIDDEN, asking for a full token, and nothing changes', async () => {
    await grantCredits(api.db, 'r_victim', 10);
    const reader = trpcClient(api.url, await userToken('r_victim', { settle_scope: 'read' }));
    const before = await snapshot(api.db);

    // The host's own key for its 3-credit export, taken first by the user for 1 credit.
    const spend = await outcome(reader.entitlements.consume.mutate({ credits: 1, idempotencyKey: 'export:42' }));
    expect(spend.code).toBe('FORBIDDEN');
    expect(spend.message).toMatch(/full user token/);
    const checkout = await outcome(reader.checkout.create.mutate({ productId: 'credits10' }));
    expect(checkout.code).toBe('FORBIDDEN');
    expect(checkout.message).toMatch(/full user token/);
    expect(await codeOf(reader.billing.portal.mutate())).toBe('FORBIDDEN');
    expect(await codeOf(reader.billing.resume.mutate({ plan: 'hobby' }))).toBe('FORBIDDEN');

    expect(await snapshot(api.db)).toEqual(before);
    expect((await reader.entitlements.get.query()).credits).toBe(10);

    // The host's backend, with a full token (no settle_scope claim), spends under that key as it meant to.
    const host = trpcClient(api.url, await userToken('r_victim'));
    expect(await host.entitlements.consume.mutate({ credits: 3, idempotencyKey: 'export:42', reason: 'CSV export' })).toEqual({ credits: 7, consumed: 3 });
    const { orderId } = await host.checkout.create.mutate({ productId: 'credits10' });
    expect((await reader.orders.get.query({ orderId })).status).toBe('pending');
    expect(await codeOf(host.billing.portal.mutate())).not.toBe('FORBIDDEN');
  });

  it('refuses a token with any other settle_scope as UNAUTHORIZED, reads and streams included, never as full access', async () => {
    await grantCredits(api.db, 'r_odd', 5);
    const order = await seedOrder(api.db, { userId: 'r_odd' });
    const before = await snapshot(api.db);
    for (const scope of ['write', 'full', 'admin', 'READ', 'read write', '', null, ['read'], { read: true }]) {
      const token = await userToken('r_odd', { settle_scope: scope });
      const client = trpcClient(api.url, token);
      expect([scope, await codeOf(client.entitlements.get.query())]).toEqual([scope, 'UNAUTHORIZED']);
      expect([scope, await codeOf(client.entitlements.consume.mutate({ credits: 1, idempotencyKey: 'k' }))]).toEqual([scope, 'UNAUTHORIZED']);
      const stream = await watch(api.url, token, order.id, () => true).then(
        () => 'OK',
        (err: unknown) => (err as { data?: { code?: string } }).data?.code ?? String(err),
      );
      expect([scope, stream]).toEqual([scope, 'UNAUTHORIZED']);
    }
    expect(await snapshot(api.db)).toEqual(before);
  });

  it('a host\'s own claims, an OAuth-style scope among them, leave a token with full access', async () => {
    await grantCredits(api.db, 'r_oauth', 2);
    const client = trpcClient(api.url, await userToken('r_oauth', { scope: 'openid profile email', role: 'member' }));
    expect(await client.entitlements.consume.mutate({ credits: 1, idempotencyKey: 'oauth-1' })).toEqual({ credits: 1, consumed: 1 });
  });

  it('dev-token mints a read token with --read and a full one without', { timeout: 30_000 }, async () => {
    await grantCredits(api.db, 'r_dev', 5);
    const [read, full] = await Promise.all([devToken('r_dev', '--read'), devToken('r_dev')]);
    const reader = trpcClient(api.url, read);
    expect((await reader.entitlements.get.query()).credits).toBe(5);
    expect(await codeOf(reader.entitlements.consume.mutate({ credits: 1, idempotencyKey: 'dev-1' }))).toBe('FORBIDDEN');
    expect(await trpcClient(api.url, full).entitlements.consume.mutate({ credits: 1, idempotencyKey: 'dev-1' })).toEqual({ credits: 4, consumed: 1 });
  });
});
