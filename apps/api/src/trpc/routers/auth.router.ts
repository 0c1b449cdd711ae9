import { createAdminSession, deleteAdminSession, deleteExpiredAdminSessions, findAdminUserByEmail, normalizeEmail, recordAdminAction } from '@settle/db';
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { decoyHash, verifyPassword } from '../../lib/password.js';
import type { HttpExchange } from '../http-exchange.js';
import { adminProcedure, publicProcedure, router, tooManyRequests, type Context } from '../trpc.js';

/** No control characters: they have no place in an address and PostgreSQL refuses NUL. */
const PRINTABLE = /^[^\u0000-\u001f\u007f]*$/;

function requireHttp(ctx: Context): HttpExchange {
  if (!ctx.http) throw new TRPCError({ code: 'BAD_REQUEST', message: 'console sessions need an HTTP request' });
  if (!ctx.http.trustedOrigin) throw new TRPCError({ code: 'FORBIDDEN', message: 'cross-origin request refused: Origin must be the console' });
  return ctx.http;
}

/** The console's session: login sets the `settle_admin` cookie, logout ends it, me says who is signed in. */
export const authRouter = router({
  login: publicProcedure
    .input(z.object({ email: z.string().trim().min(3).max(320).regex(PRINTABLE, 'email has characters an address cannot have'), password: z.string().min(1).max(1024) }))
    .mutation(async ({ ctx, input }) => {
      const http = requireHttp(ctx);
      const db = ctx.deps.database.db;
      const email = normalizeEmail(input.email);
      const wait = await http.loginThrottle.retryAfter(http.ip, email);
      if (wait !== null) throw tooManyRequests(ctx, wait, `too many failed sign-ins (${Math.ceil(wait / 60)} min left)`);

      const account = await findAdminUserByEmail(db, email);
      // The decoy keeps an unknown email as slow as a known one.
      const matches = await verifyPassword(input.password, account?.password_hash ?? (await decoyHash()));
      if (!account || !matches || account.disabled_at) {
        const locked = await http.loginThrottle.failed(http.ip, email);
        const why = !account ? 'unknown account' : account.disabled_at ? 'account disabled' : 'wrong password';
        // The address typed goes to the audit log (the database), never to the application log.
        await db.transaction().execute(async (trx) => {
          await recordAdminAction(trx, { actor: 'anonymous', action: 'auth.login_failed', target: `admin:${email}`, reason: why, details: { ip: http.ip } });
          for (const scope of locked) {
            await recordAdminAction(trx, { actor: 'system', action: 'auth.lockout', target: scope === 'address' ? `ip:${http.ip}` : `admin:${email}`, reason: `too many failed sign-ins per ${scope}`, details: { ip: http.ip, scope } });
          }
        });
        ctx.deps.logger.warn({ ip: http.ip, locked }, 'admin sign-in refused');
        throw new TRPCError({ code: 'UNAUTHORIZED', message: 'email or password is wrong' });
      }
      await http.loginThrottle.succeeded(http.ip, email);

      const expiresAt = new Date(Date.now() + ctx.deps.env.ADMIN_SESSION_HOURS * 3_600_000);
      const sessionId = await db.transaction().execute(async (trx) => {
        const id = await createAdminSession(trx, Number(account.id), expiresAt);
        await recordAdminAction(trx, { actor: `admin:${account.email}`, action: 'auth.login', target: `admin:${account.email}`, reason: null, details: { ip: http.ip } });
        return id;
      });
      http.setSessionCookie(sessionId, expiresAt);
      deleteExpiredAdminSessions(db).catch(() => {});
      return { email: account.email, role: account.role, expiresAt: expiresAt.toISOString() };
    }),

  logout: publicProcedure.mutation(async ({ ctx }) => {
    const http = requireHttp(ctx);
    if (http.sessionId) {
      await ctx.deps.database.db.transaction().execute(async (trx) => {
        const ended = await deleteAdminSession(trx, http.sessionId!);
        if (ended && ctx.admin?.via === 'session') {
          await recordAdminAction(trx, { actor: ctx.admin.actor, action: 'auth.logout', target: ctx.admin.actor, reason: null, details: {} });
        }
      });
    }
    http.clearSessionCookie();
    return { ok: true as const };
  }),

  me: adminProcedure('viewer').query(({ ctx }) => ({
    actor: ctx.admin.actor,
    role: ctx.admin.role,
    via: ctx.admin.via,
    email: ctx.admin.email ?? null,
    expiresAt: ctx.admin.expiresAt?.toISOString() ?? null,
  })),
});
