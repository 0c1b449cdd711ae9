import { countAdminUsers, findActiveAdminSession, insertAdminUser, recordAdminAction, type Db } from '@settle/db';
import type { Logger } from 'pino';
import type { Env } from '../env.js';
import type { AdminPrincipal } from './admin-auth.js';
import { hashPassword } from './password.js';

/** The console's session cookie: httpOnly, SameSite=Strict, Path=/, Secure in production or behind https (see `httpExchange`). */
export const SESSION_COOKIE = 'settle_admin';

/** Resolve a session cookie to its principal (`admin:<email>`); null if unknown, expired or disabled. */
export async function verifyAdminSession(db: Db, sessionId: string): Promise<AdminPrincipal | null> {
  if (sessionId.length < 20 || sessionId.length > 200) return null;
  const s = await findActiveAdminSession(db, sessionId);
  if (!s) return null;
  return { actor: `admin:${s.email}`, role: s.role, via: 'session', adminId: s.adminId, email: s.email, expiresAt: s.expiresAt };
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

/**
 * Create the first owner from ADMIN_EMAIL/ADMIN_PASSWORD when there is no admin account at all.
 * Without both, say so: the console's sign-in can only answer "no such account".
 */
export async function bootstrapFirstAdmin(db: Db, env: Env, logger: Logger): Promise<void> {
  if ((await countAdminUsers(db)) > 0) return;
  if (!env.ADMIN_EMAIL || !env.ADMIN_PASSWORD) {
    const missing = !env.ADMIN_EMAIL && !env.ADMIN_PASSWORD ? 'ADMIN_EMAIL and ADMIN_PASSWORD are not set' : `${env.ADMIN_EMAIL ? 'ADMIN_PASSWORD' : 'ADMIN_EMAIL'} is not set`;
    logger.warn(`no admin account yet, so nobody can sign in to the console: ${missing}. Set ADMIN_EMAIL and ADMIN_PASSWORD and restart to create the first owner`);
    return;
  }
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
