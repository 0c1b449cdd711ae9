import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_BACKENDS } from '@settle/db/testing';
import { createTRPCClient, httpSubscriptionLink } from '@trpc/client';
import { EventSource } from 'eventsource';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEnv } from '../src/env.js';
import type { AppRouter } from '../src/trpc/root.js';
import { JWT_SECRET, seedOrder, startApiWithSimulator, WEBHOOK_SECRET } from './harness.js';

const OWNER = { email: 'owner@settle.test', password: 'owner-password-123' };
const AUDIENCE = 'settle-api';
const ISSUER = 'https://host.example';

function sign(userId: string, claims: { exp?: boolean; aud?: string | null; iss?: string | null } = {}) {
  let jwt = new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(userId).setIssuedAt();
  if (claims.exp !== false) jwt = jwt.setExpirationTime('1h');
  if (claims.aud !== null) jwt = jwt.setAudience(claims.aud ?? AUDIENCE);
  if (claims.iss !== null) jwt = jwt.setIssuer(claims.iss ?? ISSUER);
  return jwt.sign(new TextEncoder().encode(JWT_SECRET));
}

type Reply = { status: number; retryAfter: string | null; body: unknown; errors: { code?: string; message?: string; fieldErrors?: unknown }[] };

/** A tRPC call over plain HTTP from a client address (X-Forwarded-For, honoured with TRUST_PROXY=1). */
async function call(url: string, path: string, kind: 'query' | 'mutation', input: unknown, opts: { ip: string; token?: string; batch?: number; query?: string }): Promise<Reply> {
  const headers: Record<string, string> = { 'x-forwarded-for': opts.ip, origin: url };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  const n = opts.batch ?? 0;
  const paths = n ? Array.from({ length: n }, () => path).join(',') : path;
  const inputs = n ? Object.fromEntries(Array.from({ length: n }, (_, i) => [i, input])) : input;
  const batch = n ? 'batch=1&' : '';
  const res =
    kind === 'query'
      ? await fetch(`${url}/trpc/${paths}?${batch}${input === undefined ? '' : `input=${encodeURIComponent(JSON.stringify(inputs))}`}${opts.query ?? ''}`, { headers })
      : await fetch(`${url}/trpc/${paths}${n ? '?batch=1' : ''}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(inputs ?? null) });
  const body = (await res.json()) as unknown;
  const items = (Array.isArray(body) ? body : [body]) as { error?: { message: string; data?: { code: string; fieldErrors?: unknown } } }[];
  return {
    status: res.status,
    retryAfter: res.headers.get('retry-after'),
    body,
    errors: items.map((b) => ({ code: b.error?.data?.code, message: b.error?.message, fieldErrors: b.error?.data?.fieldErrors })),
  };
}

describe.each(TEST_BACKENDS)('limits, throttling and truthful errors on %s', (kind) => {
  let setup: Awaited<ReturnType<typeof startApiWithSimulator>>;
  let url: string;
  // A built console with a source map left in it by mistake.
  const consoleDir = mkdtempSync(join(tmpdir(), 'settle-console-'));
  mkdirSync(join(consoleDir, 'assets'));
  writeFileSync(join(consoleDir, 'index.html'), '<!doctype html><title>console</title>');
  writeFileSync(join(consoleDir, 'assets', 'app.js'), 'console.log(1);\n//# sourceMappingURL=app.js.map');
  writeFileSync(join(consoleDir, 'assets', 'app.js.map'), '{"version":3,"sources":["src/App.tsx"]}');
  beforeAll(async () => {
    setup = await startApiWithSimulator(kind, {
      ADMIN_CONSOLE_DIR: consoleDir,
      TRUST_PROXY: '1',
      ADMIN_EMAIL: OWNER.email,
      ADMIN_PASSWORD: OWNER.password,
      RATE_LIMIT_CHECKOUT_PER_MIN: '3',
      RATE_LIMIT_USER_PER_MIN: '40',
      RATE_LIMIT_IP_PER_MIN: '100',
      TRPC_MAX_BATCH: '10',
      OPEN_ORDERS_PER_USER: '2',
      SUBSCRIPTIONS_PER_USER: '2',
      LOGIN_FAILURES_PER_ADDRESS: '6',
      LOGIN_FAILURES_PER_ACCOUNT: '6',
      USER_JWT_AUDIENCE: AUDIENCE,
      USER_JWT_ISSUER: ISSUER,
    });
    url = setup.api.url;
  });
  afterAll(async () => {
    await setup?.close();
    rmSync(consoleDir, { recursive: true, force: true });
  });

  it('never serves the console’s source maps', async () => {
    expect((await fetch(`${url}/admin/assets/app.js`)).status).toBe(200);
    expect((await fetch(`${url}/admin/assets/app.js.map`)).status).toBe(404);
  });

  it('limits checkout creation per user with TOO_MANY_REQUESTS and Retry-After: no Stripe call past the limit', async () => {
    const token = await sign('checkout_user');
    const made: Reply[] = [];
    for (let i = 0; i < 5; i++) made.push(await call(url, 'checkout.create', 'mutation', { productId: 'credits10' }, { ip: '198.51.100.10', token }));
    expect(made.slice(0, 2).map((r) => r.status)).toEqual([200, 200]);
    // The third is refused by the open-orders cap (2 unpaid), the fourth and fifth by the rate limit (3 per minute).
    expect(made[2]!.errors[0]).toMatchObject({ code: 'TOO_MANY_REQUESTS', message: expect.stringMatching(/unpaid orders/) });
    expect(made[4]!.status).toBe(429);
    expect(made[4]!.errors[0]!.code).toBe('TOO_MANY_REQUESTS');
    expect(Number(made[4]!.retryAfter)).toBeGreaterThan(0);
    const orders = await setup.api.db.selectFrom('orders').select('id').where('user_id', '=', 'checkout_user').execute();
    expect(orders).toHaveLength(2);
  });

  it('refuses a tRPC batch larger than TRPC_MAX_BATCH before running any of it', async () => {
    const token = await sign('batch_user');
    const big = await call(url, 'checkout.create', 'mutation', { productId: 'credits10' }, { ip: '198.51.100.11', token, batch: 200 });
    expect(big.status).toBe(400);
    expect(await setup.api.db.selectFrom('orders').select('id').where('user_id', '=', 'batch_user').execute()).toHaveLength(0);
    const ok = await call(url, 'products.list', 'query', undefined, { ip: '198.51.100.11', batch: 10 });
    expect(ok.status).toBe(200);
  });

  it('limits requests per user and per address, each procedure of a batch counting', async () => {
    const token = await sign('busy_user');
    const replies: Reply[] = [];
    for (let i = 0; i < 5; i++) replies.push(await call(url, 'orders.list', 'query', {}, { ip: `198.51.100.${20 + i}`, token, batch: 10 }));
    // 40 per minute per user: four batches of ten pass, the fifth is refused whatever the address.
    expect(replies.slice(0, 4).every((r) => r.status === 200)).toBe(true);
    expect(replies[4]!.errors.every((e) => e.code === 'TOO_MANY_REQUESTS')).toBe(true);

    const fromOne: Reply[] = [];
    for (let i = 0; i < 11; i++) fromOne.push(await call(url, 'products.list', 'query', undefined, { ip: '198.51.100.30', batch: 10 }));
    expect(fromOne.slice(0, 10).every((r) => r.status === 200)).toBe(true);
    expect(fromOne[10]!.status).toBe(429);
    // Another address is not affected.
    expect((await call(url, 'products.list', 'query', undefined, { ip: '198.51.100.31' })).status).toBe(200);
  });

  it('a host backend calling for many users from one address is limited per user, not by the per-address limit; calls without a valid token are limited per address', async () => {
    // 12 users × 10 calls from one address: past the 100 per minute per address, within 40 per user.
    const replies: Reply[] = [];
    for (let i = 0; i < 12; i++) replies.push(await call(url, 'entitlements.get', 'query', undefined, { ip: '198.51.100.40', token: await sign(`host_user_${i}`), batch: 10 }));
    expect(replies.map((r) => r.status)).toEqual(replies.map(() => 200));
    // A bad token is no way around the per-address limit.
    const forged: Reply[] = [];
    for (let i = 0; i < 11; i++) forged.push(await call(url, 'entitlements.get', 'query', undefined, { ip: '198.51.100.41', token: 'not.a.jwt', batch: 10 }));
    expect(forged.slice(0, 10).every((r) => r.errors.every((e) => e.code === 'UNAUTHORIZED'))).toBe(true);
    expect(forged[10]!.status).toBe(429);
  });

  it('caps live status streams per user', async () => {
    const token = await sign('stream_user');
    const order = await seedOrder(setup.api.db, { userId: 'stream_user' });
    const client = createTRPCClient<AppRouter>({
      links: [httpSubscriptionLink({ url: `${url}/trpc`, EventSource, connectionParams: () => ({ token }) })],
    });
    const open = (): Promise<{ sub: { unsubscribe(): void }; outcome: string }> =>
      new Promise((resolve) => {
        const sub = client.orders.onStatus.subscribe(
          { orderId: order.id },
          { onData: () => resolve({ sub, outcome: 'data' }), onError: (err) => resolve({ sub, outcome: (err as { data?: { code?: string } }).data?.code ?? String(err) }) },
        );
      });
    const a = await open();
    const b = await open();
    const c = await open();
    expect([a.outcome, b.outcome, c.outcome]).toEqual(['data', 'data', 'TOO_MANY_REQUESTS']);
    for (const s of [a, b, c]) s.sub.unsubscribe();
  });

  it('requires exp, the configured audience and issuer, and takes connectionParams tokens for subscriptions only', async () => {
    const ip = '198.51.100.40';
    expect((await call(url, 'entitlements.get', 'query', undefined, { ip, token: await sign('jwt_user') })).status).toBe(200);
    for (const bad of [await sign('jwt_user', { exp: false }), await sign('jwt_user', { aud: null }), await sign('jwt_user', { iss: 'https://evil.example' })]) {
      expect((await call(url, 'entitlements.get', 'query', undefined, { ip, token: bad })).errors[0]!.code).toBe('UNAUTHORIZED');
    }
    const viaParams = `&connectionParams=${encodeURIComponent(JSON.stringify({ token: await sign('jwt_user') }))}`;
    expect((await call(url, 'entitlements.get', 'query', undefined, { ip, query: viaParams })).errors[0]!.code).toBe('UNAUTHORIZED');
  });

  it('behind a proxy, one address failing many sign-ins locks itself out, not the owner; failures and lock-outs are audited', async () => {
    const attacker = '203.0.113.7';
    for (let i = 0; i < 6; i++) {
      const r = await call(url, 'auth.login', 'mutation', { email: `nobody${i}@settle.test`, password: 'guess-password-1' }, { ip: attacker });
      expect(r.errors[0]!.code).toBe('UNAUTHORIZED');
    }
    const locked = await call(url, 'auth.login', 'mutation', { email: 'fresh@settle.test', password: 'guess-password-1' }, { ip: attacker });
    expect(locked.status).toBe(429);
    expect(Number(locked.retryAfter)).toBeGreaterThan(0);
    const owner = await call(url, 'auth.login', 'mutation', OWNER, { ip: '198.51.100.50' });
    expect(owner.status).toBe(200);

    // Guessing one account from many addresses: after 6 failures the account is locked everywhere.
    for (let i = 0; i < 6; i++) await call(url, 'auth.login', 'mutation', { ...OWNER, password: `wrong-${i}-password` }, { ip: `192.0.2.${i + 1}` });
    const refused = await call(url, 'auth.login', 'mutation', OWNER, { ip: '198.51.100.51' });
    expect(refused.errors[0]!.code).toBe('TOO_MANY_REQUESTS');

    const audit = await setup.api.db.selectFrom('admin_audit').select(['action', 'target', 'details']).where('action', 'like', 'auth.%').execute();
    expect(audit.filter((a) => a.action === 'auth.login_failed')).toHaveLength(12);
    expect(audit.filter((a) => a.action === 'auth.lockout').map((a) => [a.target, (a.details as { scope: string }).scope])).toEqual(
      expect.arrayContaining([
        [`ip:${attacker}`, 'address'],
        [`admin:${OWNER.email}`, 'account'],
      ]),
    );
  }, 180_000);

  it('answers bad input with BAD_REQUEST and field errors, and unexpected faults without internals', async () => {
    const ip = '198.51.100.60';
    const nul = await call(url, 'auth.login', 'mutation', { email: 'a\u0000@settle.test', password: 'x' }, { ip });
    expect(nul.status).toBe(400);
    expect(nul.errors[0]!.fieldErrors).toEqual([expect.objectContaining({ path: 'email' })]);
    const yearZero = Buffer.from(JSON.stringify({ createdAt: '0000-01-01T00:00:00Z', id: randomUUID() })).toString('base64url');
    const cursor = await call(url, 'orders.list', 'query', { cursor: yearZero }, { ip, token: await sign('cursor_user') });
    expect(cursor.errors[0]).toMatchObject({ code: 'BAD_REQUEST', message: 'cursor is not valid' });

    // A NUL in a search reaches PostgreSQL, which refuses it: a 400 with a reference, no SQL.
    const { token } = await import('@settle/db').then((db) => db.createAdminToken(setup.api.db, { name: `abuse-${kind}`, role: 'viewer', createdBy: 'test' }));
    const search = await call(url, 'admin.orders.list', 'query', { search: 'x\u0000y' }, { ip, token });
    expect(search.status).toBe(400);
    expect(search.errors[0]!.message).toMatch(/^input is not valid \(reference [0-9a-f-]{36}\)$/);
    expect(JSON.stringify(search.body)).not.toMatch(/sql|syntax|byte sequence|stack|postgres/i);
  });

  it('refuses a webhook tolerance of 0 (it would turn the timestamp check off)', () => {
    expect(() => parseEnv({ STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET, STRIPE_WEBHOOK_TOLERANCE_S: '0' })).toThrow(/STRIPE_WEBHOOK_TOLERANCE_S/);
    expect(() => parseEnv({ ADMIN_EMAIL: 'ops@settle.test', ADMIN_PASSWORD: 'short' })).toThrow(/ADMIN_PASSWORD/);
    expect(() => parseEnv({ ADMIN_EMAIL: 'longname@settle.test', ADMIN_PASSWORD: 'longname@settle.test' })).toThrow(/e-mail/);
  });
});
