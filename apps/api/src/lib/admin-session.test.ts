import { describe, expect, it } from 'vitest';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { parseEnv } from '../env.js';
import { httpExchange } from '../trpc/http-exchange.js';
import { isTrustedOrigin } from './admin-session.js';
import { createRateLimits } from './rate-limits.js';
import { hashPassword, verifyPassword } from './password.js';

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
  it('is httpOnly, SameSite=Strict, Path=/ always, and Secure in production or whenever PUBLIC_URL is https', () => {
    for (const [nodeEnv, publicUrl, secure] of [
      ['development', 'http://localhost:3000', false],
      ['production', 'http://localhost:3000', true],
      ['development', 'https://pay.example.com', true],
    ] as const) {
      const env = parseEnv({ NODE_ENV: nodeEnv, PUBLIC_URL: publicUrl, STRIPE_WEBHOOK_SECRET: 'whsec_x', USER_JWT_SECRET: 'x'.repeat(32), STRIPE_SECRET_KEY: 'sk_test_x' });
      const set: unknown[] = [];
      const reply = { setCookie: (...args: unknown[]) => set.push(args), clearCookie: (...args: unknown[]) => set.push(args) } as unknown as FastifyReply;
      const req = { ip: '127.0.0.1', cookies: {}, headers: {} } as unknown as FastifyRequest;
      const http = httpExchange(req, reply, { publicUrl: env.PUBLIC_URL, production: env.NODE_ENV === 'production', origins: new Set(), loginThrottle: createRateLimits(env, null).login });
      http.setSessionCookie('sid', new Date(Date.now() + 3_600_000));
      http.clearSessionCookie();
      for (const call of set) {
        expect(call).toEqual(['settle_admin', ...(call as unknown[]).slice(1, -1), expect.objectContaining({ httpOnly: true, sameSite: 'strict', path: '/', secure })]);
      }
      expect((set[0] as [string, string, { maxAge: number }])[2].maxAge).toBe(3600);
    }
  });
});
