import { countAdminUsers, findActiveAdminSession, insertAdminUser, recordAdminAction, type Db } from '@settle/db';
// Importing a type from @fastify/cookie also brings its request/reply augmentation (cookies, setCookie).
import type { CookieSerializeOptions } from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Env } from '../env.js';
import type { HttpExchange } from '../trpc/trpc.js';
import type { AdminPrincipal } from './admin-auth.js';
import { hashPassword } from './password.js';

/** The console's session cookie: httpOnly, SameSite=Strict, Path=/, Secure in production. */
export const SESSION_COOKIE = 'settle_admin';

/** Resolve a session cookie to its principal (`admin:<email>`); null if unknown, expired or disabled. */
export async function verifyAdminSession(db: Db, sessionId: string): Promise<AdminPrincipal | null> {
  if (sessionId.length < 20 || sessionId.length > 200) return null;
  const s = await findActiveAdminSession(db, sessionId);
  if (!s) return null;
  return { actor: `admin:${s.email}`, role: s.role, via: 'session', adminId: s.adminId, email: s.email, expiresAt: s.expiresAt };
}

export type LoginRateLimiter = {
  /** Null when a login may be tried now, else the seconds until one may. */
  retryAfter(ip: string, email: string): number | null;
  failed(ip: string, email: string): void;
  succeeded(ip: string, email: string): void;
};

/**
 * Sliding-window limit on failed logins, per IP and email (guessing one account) and per IP
 * (spraying many). In memory: each API instance counts its own, which still bounds guessing to
 * `instances × limit` per window.
 */
export function createLoginRateLimiter(opts: { perAccount?: number; perIp?: number; windowMs?: number; now?: () => number } = {}): LoginRateLimiter {
  const perAccount = opts.perAccount ?? 5;
  const perIp = opts.perIp ?? 50;
  const windowMs = opts.windowMs ?? 15 * 60_000;
  const now = opts.now ?? Date.now;
  const failures = new Map<string, number[]>();

  const recent = (key: string, t: number): number[] => {
    const kept = (failures.get(key) ?? []).filter((at) => at > t - windowMs);
    if (kept.length) failures.set(key, kept);
    else failures.delete(key);
    return kept;
  };
  const prune = (t: number) => {
    if (failures.size < 10_000) return;
    for (const key of [...failures.keys()]) recent(key, t);
  };
  const wait = (times: number[], limit: number, t: number): number | null =>
    times.length < limit ? null : Math.max(1, Math.ceil(((times[times.length - limit] ?? t) + windowMs - t) / 1000));

  return {
    retryAfter(ip, email) {
      const t = now();
      const a = wait(recent(`a:${ip}:${email}`, t), perAccount, t);
      const b = wait(recent(`i:${ip}`, t), perIp, t);
      return a === null && b === null ? null : Math.max(a ?? 0, b ?? 0);
    },
    failed(ip, email) {
      const t = now();
      prune(t);
      for (const key of [`a:${ip}:${email}`, `i:${ip}`]) failures.set(key, [...recent(key, t), t]);
    },
    succeeded(ip, email) {
      failures.delete(`a:${ip}:${email}`);
    },
  };
}

/** The origins whose cookie-authenticated mutations are accepted besides the API's own host. */
export function allowedOrigins(env: Env): Set<string> {
  const out = new Set<string>([new URL(env.PUBLIC_URL).origin]);
  for (const o of env.ADMIN_ORIGINS ?? []) {
    try {
      out.add(new URL(o).origin);
    } catch {
      // Not a URL: it can never match a browser's Origin header.
    }
  }
  return out;
}

/**
 * CSRF check: the request's Origin (or, without one, Referer) must be the API's own host (what
 * the browser addressed, so the console served at /admin/ and Vite's dev proxy both pass) or an
 * allowed origin. A request with neither header is refused: browsers always send Origin on POST.
 */
export function isTrustedOrigin(headers: { origin?: string | undefined; referer?: string | undefined; host?: string | undefined }, allowed: Set<string>): boolean {
  const source = headers.origin && headers.origin !== 'null' ? headers.origin : headers.referer;
  if (!source) return false;
  let url: URL;
  try {
    url = new URL(source);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  return allowed.has(url.origin) || (headers.host !== undefined && url.host === headers.host.toLowerCase());
}

/** Create the first owner from ADMIN_EMAIL/ADMIN_PASSWORD when there is no admin account at all. */
export async function bootstrapFirstAdmin(db: Db, env: Env, logger: Logger): Promise<void> {
  if (!env.ADMIN_EMAIL || !env.ADMIN_PASSWORD) return;
  if ((await countAdminUsers(db)) > 0) return;
  const passwordHash = await hashPassword(env.ADMIN_PASSWORD);
  const email = env.ADMIN_EMAIL;
  const created = await db.transaction().execute(async (trx) => {
    // Several instances may start at once: the unique email makes exactly one insert win.
    const account = await insertAdminUser(trx, { email, passwordHash, role: 'owner' });
    if (account) {
      await recordAdminAction(trx, { actor: 'system', action: 'users.bootstrap', target: `admin:${account.email}`, reason: 'first admin from ADMIN_EMAIL', details: { role: 'owner' } });
    }
    return account;
  });
  if (created) logger.info({ email: created.email }, 'first admin account created from ADMIN_EMAIL');
}

/** The console-session side of a tRPC request: cookie in, cookie out, origin check, client address. */
export function httpExchange(
  req: FastifyRequest,
  reply: FastifyReply,
  opts: { env: Env; origins: Set<string>; loginLimiter: LoginRateLimiter },
): HttpExchange {
  const cookie: CookieSerializeOptions = { httpOnly: true, sameSite: 'strict', path: '/', secure: opts.env.NODE_ENV === 'production' };
  return {
    ip: req.ip,
    sessionId: req.cookies[SESSION_COOKIE] ?? null,
    trustedOrigin: isTrustedOrigin({ origin: req.headers.origin, referer: req.headers.referer, host: req.headers.host }, opts.origins),
    loginLimiter: opts.loginLimiter,
    setSessionCookie(sessionId, expiresAt) {
      reply.setCookie(SESSION_COOKIE, sessionId, { ...cookie, expires: expiresAt, maxAge: Math.max(0, Math.round((expiresAt.getTime() - Date.now()) / 1000)) });
    },
    clearSessionCookie() {
      reply.clearCookie(SESSION_COOKIE, cookie);
    },
  };
}
