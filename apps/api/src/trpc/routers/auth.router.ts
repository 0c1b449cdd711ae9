import { createAdminSession, deleteAdminSession, deleteExpiredAdminSessions, findAdminUserByEmail, normalizeEmail, recordAdminAction } from '@settle/db';
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { decoyHash, verifyPassword } from '../../lib/password.js';
import { adminProcedure, publicProcedure, router, type Context, type HttpExchange } from '../trpc.js';

function requireHttp(ctx: Context): HttpExchange {
  if (!ctx.http) throw new TRPCError({ code: 'BAD_REQUEST', message: 'console sessions need an HTTP request' });
  if (!ctx.http.trustedOrigin) throw new TRPCError({ code: 'FORBIDDEN', message: 'cross-origin request refused: Origin must be the console' });
  return ctx.http;
}

/** The console's session: login sets the `settle_admin` cookie, logout ends it, me says who is signed in. */
export const authRouter = router({
  login: publicProcedure
    .input(z.object({ email: z.string().trim().min(3).max(320), password: z.string().min(1).max(1024) }))
    .mutation(async ({ ctx, input }) => {
      const http = requireHttp(ctx);
      const db = ctx.deps.database.db;
      const email = normalizeEmail(input.email);
      const wait = http.loginLimiter.retryAfter(http.ip, email);
      if (wait !== null) throw new TRPCError({ code: 'TOO_MANY_REQUESTS', message: `too many failed sign-ins; try again in ${Math.ceil(wait / 60)} min` });

      const account = await findAdminUserByEmail(db, email);
      // The decoy keeps an unknown email as slow as a known one.
      const matches = await verifyPassword(input.password, account?.password_hash ?? (await decoyHash()));
      if (!account || !matches || account.disabled_at) {
        http.loginLimiter.failed(http.ip, email);
        ctx.deps.logger.warn({ email, ip: http.ip }, 'admin sign-in refused');
        throw new TRPCError({ code: 'UNAUTHORIZED', message: 'email or password is wrong' });
      }
      http.loginLimiter.succeeded(http.ip, email);

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
