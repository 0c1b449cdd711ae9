import { createAdminToken } from '@settle/db';
import { TEST_BACKENDS } from '@settle/db/testing';
import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import { Agent, fetch as undiciFetch } from 'undici';
import type { AppRouter } from '../src/trpc/root.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grantCredits, startApi, trpcClient, userToken, type TestApi } from './harness.js';

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'OK',
    (err: unknown) => (err instanceof TRPCClientError ? ((err.data as { code?: string } | undefined)?.code ?? err.message) : String(err)),
  );

describe.each(TEST_BACKENDS)('spending credits (entitlements.consume) on %s', (kind) => {
  let api: TestApi;
  beforeAll(async () => {
    // One user sending 1,000 spends at once is what this file is about, not the rate limits.
    api = await startApi(kind, { RATE_LIMIT_IP_PER_MIN: '100000', RATE_LIMIT_USER_PER_MIN: '100000' });
  });
  afterAll(async () => {
    await api?.close();
  });

  const grant = (userId: string, credits: number) => grantCredits(api.db, userId, credits);

  it('refuses bad input with BAD_REQUEST and changes nothing', async () => {
    await grant('u_bad', 5);
    const client = trpcClient(api.url, await userToken('u_bad'));
    const bad = [
      { credits: 0, idempotencyKey: 'k' },
      { credits: -3, idempotencyKey: 'k' },
      { credits: 1.5, idempotencyKey: 'k' },
      { credits: 1, idempotencyKey: '' },
      { credits: 1, idempotencyKey: '   ' },
      // Not trimmed into another key: " k " would have repeated a spend under "k".
      { credits: 1, idempotencyKey: ' k ' },
      { credits: 1 },
      { credits: '2', idempotencyKey: 'k' },
    ];
    for (const input of bad) {
      expect(await codeOf(client.entitlements.consume.mutate(input as never))).toBe('BAD_REQUEST');
    }
    expect(await codeOf(trpcClient(api.url).entitlements.consume.mutate({ credits: 1, idempotencyKey: 'k' }))).toBe('UNAUTHORIZED');
    expect((await client.entitlements.get.query()).credits).toBe(5);
    expect((await client.entitlements.ledger.query()).items).toHaveLength(1);
  });

  it('spends once per key, refuses a short balance without spending, and shows the ledger to its owner only', async () => {
    await grant('u_spend', 10);
    const client = trpcClient(api.url, await userToken('u_spend'));
    expect(await client.entitlements.consume.mutate({ credits: 3, idempotencyKey: 'export-1', reason: 'PDF export' })).toEqual({ credits: 7, consumed: 3 });
    expect(await client.entitlements.consume.mutate({ credits: 3, idempotencyKey: 'export-1', reason: 'PDF export' })).toEqual({ credits: 7, consumed: 3 });
    expect(await codeOf(client.entitlements.consume.mutate({ credits: 4, idempotencyKey: 'export-1' }))).toBe('CONFLICT');
    expect(await codeOf(client.entitlements.consume.mutate({ credits: 8, idempotencyKey: 'export-2' }))).toBe('PRECONDITION_FAILED');
    expect((await client.entitlements.get.query()).credits).toBe(7);
    // Nothing was stored for the refused key: after a top-up it goes through.
    await grant('u_spend', 1);
    expect(await client.entitlements.consume.mutate({ credits: 8, idempotencyKey: 'export-2' })).toEqual({ credits: 0, consumed: 8 });

    const first = await client.entitlements.ledger.query({ limit: 2 });
    expect(first.items.map((e) => [e.delta, e.reason, e.note, e.balanceAfter])).toEqual([
      [-8, 'consume', null, 0],
      [1, 'grant', null, 8],
    ]);
    const second = await client.entitlements.ledger.query({ limit: 2, cursor: first.nextCursor });
    expect(second.items.map((e) => [e.delta, e.reason, e.note, e.idempotencyKey])).toEqual([
      [-3, 'consume', 'PDF export', 'export-1'],
      [10, 'grant', null, null],
    ]);
    expect(second.nextCursor).toBeNull();
    const stranger = trpcClient(api.url, await userToken('u_other'));
    expect((await stranger.entitlements.ledger.query()).items).toEqual([]);

    const { token } = await createAdminToken(api.db, { name: `viewer-${kind}`, role: 'viewer', createdBy: 'test' });
    const admin = trpcClient(api.url, token);
    const customer = await admin.admin.customers.get.query({ userId: 'u_spend', limit: 10 });
    expect(customer.entitlements.credits).toBe(0);
    expect(customer.ledger.items.map((e) => e.delta)).toEqual([-8, 1, -3, 10]);
  });

  it('never overdraws over 1,000 concurrent consumes, and each key spends once', async () => {
    await grant('u_race', 700);
    // All 1,000 requests are in flight at once over 100 keep-alive connections: a thousand fresh
    // TCP connects at once overflow the listen backlog of a loaded machine and fail before Settle.
    const agent = new Agent({ connections: 100 });
    const token = await userToken('u_race');
    const client = createTRPCClient<AppRouter>({
      links: [httpLink({ url: `${api.url}/trpc`, headers: { authorization: `Bearer ${token}` }, fetch: (url, init) => undiciFetch(url, { ...(init as object), dispatcher: agent }) as never })],
    });
    // 1,000 requests over 900 keys: 100 of them are a retry of another request in flight.
    const results = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => codeOf(client.entitlements.consume.mutate({ credits: 1, idempotencyKey: `job-${i % 900}` }))),
    );
    const ok = results.filter((r) => r === 'OK').length;
    expect(results.filter((r) => r !== 'OK' && r !== 'PRECONDITION_FAILED')).toEqual([]);
    expect(ok).toBeGreaterThanOrEqual(700);
    expect((await client.entitlements.get.query()).credits).toBe(0);
    const spends = await api.db.selectFrom('credit_ledger').select(['idempotency_key', 'balance_after']).where('user_id', '=', 'u_race').where('reason', '=', 'consume').execute();
    expect(spends).toHaveLength(700);
    expect(new Set(spends.map((s) => s.idempotency_key)).size).toBe(700);
    expect(new Set(spends.map((s) => Number(s.balance_after)))).toEqual(new Set(Array.from({ length: 700 }, (_, i) => i)));
    // The host hears every balance, in order.
    const messages = await api.db.selectFrom('host_deliveries').select(['sequence', 'payload']).where('user_id', '=', 'u_race').orderBy('sequence').execute();
    expect(messages.map((m) => Number(m.sequence))).toEqual(Array.from({ length: 701 }, (_, i) => i + 1));
    expect(messages.map((m) => m.payload.data.credits)).toEqual(Array.from({ length: 701 }, (_, i) => 700 - i));
    await agent.close();
  }, 240_000);
});
