// Importing a type from @fastify/cookie also brings its request/reply augmentation (cookies, setCookie).
import type { CookieSerializeOptions } from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isTrustedOrigin, SESSION_COOKIE } from '../lib/admin-session.js';
import type { LoginThrottle } from '../lib/rate-limits.js';

/** What the console's session procedures and the rate limits need from the HTTP request. */
export type HttpExchange = {
  /** The client's address: the socket's, or the one TRUST_PROXY lets the proxy headers name. */
  ip: string;
  /** The `settle_admin` cookie, if sent. */
  sessionId: string | null;
  /** Whether Origin/Referer is the API itself or an allowed console origin (the CSRF check). */
  trustedOrigin: boolean;
  setSessionCookie(sessionId: string, expiresAt: Date): void;
  clearSessionCookie(): void;
  /** `Retry-After` on a refused request (seconds). */
  retryAfter(seconds: number): void;
  loginThrottle: LoginThrottle;
};

/** The HTTP side of a tRPC request: cookie in, cookie out, origin check, client address. */
export function httpExchange(
  req: FastifyRequest,
  reply: FastifyReply,
  opts: { publicUrl: string; production: boolean; origins: Set<string>; loginThrottle: LoginThrottle },
): HttpExchange {
  // Secure in production and whenever the console is reached over https, whatever NODE_ENV says.
  const secure = opts.production || new URL(opts.publicUrl).protocol === 'https:';
  const cookie: CookieSerializeOptions = { httpOnly: true, sameSite: 'strict', path: '/', secure };
  return {
    ip: req.ip,
    sessionId: req.cookies[SESSION_COOKIE] ?? null,
    trustedOrigin: isTrustedOrigin({ origin: req.headers.origin, referer: req.headers.referer, host: req.headers.host }, opts.origins),
    loginThrottle: opts.loginThrottle,
    setSessionCookie(sessionId, expiresAt) {
      reply.setCookie(SESSION_COOKIE, sessionId, { ...cookie, expires: expiresAt, maxAge: Math.max(0, Math.round((expiresAt.getTime() - Date.now()) / 1000)) });
    },
    clearSessionCookie() {
      reply.clearCookie(SESSION_COOKIE, cookie);
    },
    retryAfter(seconds) {
      reply.header('retry-after', String(Math.max(1, Math.ceil(seconds))));
    },
  };
}
