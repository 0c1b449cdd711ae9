import { initTRPC, TRPCError } from '@trpc/server';
import { ZodError } from 'zod';
import type { AppDeps } from '../app-deps.js';
import { hasRole, type AdminPrincipal } from '../lib/admin-auth.js';
import type { LoginRateLimiter } from '../lib/admin-session.js';
import type { EndUser } from '../lib/user-auth.js';
import type { AdminRole } from '@settle/db';

export type Context = {
  deps: AppDeps;
  user: EndUser | null;
  admin: AdminPrincipal | null;
  /** The HTTP side of the request (cookies, origin, client address); absent for direct callers. */
  http?: HttpExchange;
};

/** What the console's session procedures need from the HTTP request. */
export type HttpExchange = {
  ip: string;
  /** The `settle_admin` cookie, if sent. */
  sessionId: string | null;
  /** Whether Origin/Referer is the API itself or an allowed console origin (the CSRF check). */
  trustedOrigin: boolean;
  setSessionCookie(sessionId: string, expiresAt: Date): void;
  clearSessionCookie(): void;
  loginLimiter: LoginRateLimiter;
};

const t = initTRPC.context<Context>().create({
  errorFormatter({ shape, error }) {
    const zod = error.cause instanceof ZodError ? error.cause : null;
    // Stacks stay in the logs; clients get the code, the message and the failing fields.
    const { stack: _stack, ...data } = shape.data;
    return {
      ...shape,
      data: {
        ...data,
        // Which input fields were wrong, so any client can show it.
        fieldErrors: zod ? zod.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) : undefined,
      },
    };
  },
});

export const router = t.router;
export const publicProcedure = t.procedure;
export const createCallerFactory = t.createCallerFactory;

/** End-user procedures: a valid `Authorization: Bearer <JWT>` from the host app. */
export const userProcedure = t.procedure.use(({ ctx, next }) => {
  if (!ctx.user) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'a valid user token is required' });
  return next({ ctx: { ...ctx, user: ctx.user } });
});

/**
 * Admin procedures: an admin session or API token with at least `role`
 * (viewer reads; operator overrides, reconciles, refunds, replays; owner changes flags and admins).
 */
export function adminProcedure(role: AdminRole) {
  return t.procedure.use(({ ctx, type, next }) => {
    if (!ctx.admin) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'an admin session or API token is required' });
    // SameSite=Strict keeps the cookie off cross-site requests but not off same-site ones (sibling
    // subdomains); a token is never sent implicitly, so only sessions need the origin check.
    if (type === 'mutation' && ctx.admin.via === 'session' && ctx.http && !ctx.http.trustedOrigin) {
      throw new TRPCError({ code: 'FORBIDDEN', message: 'cross-origin request refused: Origin must be the console' });
    }
    if (!hasRole(ctx.admin, role)) throw new TRPCError({ code: 'FORBIDDEN', message: `this needs the ${role} role` });
    return next({ ctx: { ...ctx, admin: ctx.admin } });
  });
}

export type DomainErrorCode = 'NOT_FOUND' | 'CONFLICT' | 'INVALID' | 'FORBIDDEN' | 'PRECONDITION' | 'UNAVAILABLE';

const TRPC_CODES = {
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  INVALID: 'BAD_REQUEST',
  FORBIDDEN: 'FORBIDDEN',
  PRECONDITION: 'PRECONDITION_FAILED',
  UNAVAILABLE: 'INTERNAL_SERVER_ERROR',
} as const satisfies Record<DomainErrorCode, TRPCError['code']>;

/** The one mapping from domain failure codes to tRPC error codes. */
export function domainError(code: DomainErrorCode, message: string): TRPCError {
  return new TRPCError({ code: TRPC_CODES[code], message });
}
