import { describe, expect, it } from 'vitest';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { parseEnv } from '../env.js';
import { createLoginRateLimiter, httpExchange, isTrustedOrigin } from './admin-session.js';
import { hashPassword, verifyPassword } from './password.js';

describe('login rate limiter', () => {
  it('refuses the sixth failed attempt within the window, per IP and email, and forgets old failures', () => {
    let t = 0;
    const limiter = createLoginRateLimiter({ perAccount: 5, perIp: 50, windowMs: 15 * 60_000, now: () => t });
    for (let i = 0; i < 5; i++) {
      expect(limiter.retryAfter('1.1.1.1', 'a@x.io')).toBeNull();
      limiter.failed('1.1.1.1', 'a@x.io');
      t += 1000;
    }
    expect(limiter.retryAfter('1.1.1.1', 'a@x.io')).toBeGreaterThan(0);
    expect(limiter.retryAfter('1.1.1.1', 'b@x.io')).toBeNull();
    expect(limiter.retryAfter('2.2.2.2', 'a@x.io')).toBeNull();
    // Sliding: once the first failure is 15 minutes old, one more try is allowed.
    t = 15 * 60_000 + 1;
    expect(limiter.retryAfter('1.1.1.1', 'a@x.io')).toBeNull();
    limiter.failed('1.1.1.1', 'a@x.io');
    expect(limiter.retryAfter('1.1.1.1', 'a@x.io')).toBeGreaterThan(0);
  });

  it('limits one IP spraying many accounts, and a success clears that account', () => {
    let t = 0;
    const limiter = createLoginRateLimiter({ perAccount: 5, perIp: 10, now: () => t++ });
    for (let i = 0; i < 10; i++) limiter.failed('9.9.9.9', `u${i}@x.io`);
    expect(limiter.retryAfter('9.9.9.9', 'fresh@x.io')).toBeGreaterThan(0);

    const other = createLoginRateLimiter({ perAccount: 2, now: () => t++ });
    other.failed('1.1.1.1', 'a@x.io');
    other.succeeded('1.1.1.1', 'a@x.io');
    other.failed('1.1.1.1', 'a@x.io');
    expect(other.retryAfter('1.1.1.1', 'a@x.io')).toBeNull();
  });
});

describe('origin check (CSRF)', () => {
  const allowed = new Set(['https://settle.example.com', 'http://localhost:5173']);
  it.each([
    [{ origin: 'https://settle.example.com' }, true],
    [{ origin: 'http://localhost:5173' }, true],
    [{ origin: 'http://127.0.0.1:3000', host: '127.0.0.1:3000' }, true],
    [{ referer: 'http://127.0.0.1:3000/admin/orders', host: '127.0.0.1:3000' }, true],
    [{ origin: 'https://evil.example', host: '127.0.0.1:3000' }, false],
    [{ origin: 'https://settle.example.com.evil.io' }, false],
    [{ origin: 'null', host: '127.0.0.1:3000' }, false],
    [{ host: '127.0.0.1:3000' }, false],
    [{ referer: 'not a url', host: '127.0.0.1:3000' }, false],
  ])('%j → %s', (headers, trusted) => {
    expect(isTrustedOrigin(headers, allowed)).toBe(trusted);
  });
});

describe('password hashing', () => {
  it('verifies the right password only, with a per-hash salt', async () => {
    const a = await hashPassword('correct horse battery');
    const b = await hashPassword('correct horse battery');
    expect(a).toMatch(/^scrypt\$32768\$8\$1\$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword('correct horse battery', a)).toBe(true);
    expect(await verifyPassword('correct horse battery!', a)).toBe(false);
    expect(await verifyPassword('x', 'not-a-hash')).toBe(false);
  });
});

describe('session cookie', () => {
  it('is httpOnly, SameSite=Strict, Path=/ always, and Secure in production', () => {
    for (const [nodeEnv, secure] of [['development', false], ['production', true]] as const) {
      const env = parseEnv({ NODE_ENV: nodeEnv, STRIPE_WEBHOOK_SECRET: 'whsec_x', USER_JWT_SECRET: 'x'.repeat(32), STRIPE_SECRET_KEY: 'sk_test_x' });
      const set: unknown[] = [];
      const reply = { setCookie: (...args: unknown[]) => set.push(args), clearCookie: (...args: unknown[]) => set.push(args) } as unknown as FastifyReply;
      const req = { ip: '127.0.0.1', cookies: {}, headers: {} } as unknown as FastifyRequest;
      const http = httpExchange(req, reply, { env, origins: new Set(), loginLimiter: createLoginRateLimiter() });
      http.setSessionCookie('sid', new Date(Date.now() + 3_600_000));
      http.clearSessionCookie();
      for (const call of set) {
        expect(call).toEqual(['settle_admin', ...(call as unknown[]).slice(1, -1), expect.objectContaining({ httpOnly: true, sameSite: 'strict', path: '/', secure })]);
      }
      expect((set[0] as [string, string, { maxAge: number }])[2].maxAge).toBe(3600);
    }
  });
});
