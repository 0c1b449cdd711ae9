import { initTRPC, TRPCError } from '@trpc/server';
import { ZodError } from 'zod';
import type { AppDeps } from '../app-deps.js';
import { hasRole, type AdminPrincipal } from '../lib/admin-auth.js';
import type { RateLimits } from '../lib/rate-limits.js';
import type { EndUser } from '../lib/user-auth.js';
import type { AdminRole } from '@settle/db';
import { isUnexpected, toPublicError } from './error-boundary.js';
import type { HttpExchange } from './http-exchange.js';

export type Context = {
  deps: AppDeps;
  user: EndUser | null;
  admin: AdminPrincipal | null;
  /** The HTTP side of the request (cookies, origin, client address); absent for direct callers. */
  http?: HttpExchange;
  /** Rate limits and caps; absent for direct callers (tests, scripts), which are not limited. */
  limits?: RateLimits;
};

const t = initTRPC.context<Context>().create({
  errorFormatter({ shape, error }) {
    const zod = error.cause instanceof ZodError ? error.cause : null;
    // Stacks stay in the logs; clients get the code, the message and the failing fields.
    const { stack: _stack, ...data } = shape.data;
    return {
      ...shape,
      // Last line of defence (the boundary below catches procedure errors): no internals out.
      message: isUnexpected(error) ? 'something went wrong on our side' : shape.message,
      data: {
        ...data,
        // Which input fields were wrong, so any client can show it.
        fieldErrors: zod ? zod.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) : undefined,
      },
    };
  },
});

/** Refuse with TOO_MANY_REQUESTS and `Retry-After` when a limit says to wait. */
export function tooManyRequests(ctx: Context, waitSeconds: number, what: string): TRPCError {
  ctx.http?.retryAfter(waitSeconds);
  return new TRPCError({ code: 'TOO_MANY_REQUESTS', message: `${what}; try again in ${waitSeconds} s` });
}

/** Every procedure: the error boundary (see `toPublicError`). */
const base = t.procedure.use(async ({ ctx, path, next }) => {
  const result = await next();
  if (!result.ok && isUnexpected(result.error)) throw toPublicError(result.error.cause, ctx.deps.logger, { path });
  return result;
});

/** The per-address rate limit. */
async function limitAddress(ctx: Context) {
  if (!ctx.limits || !ctx.http) return;
  const wait = await ctx.limits.request(ctx.http.ip);
  if (wait !== null) throw tooManyRequests(ctx, wait, 'too many requests from this address');
}

/** Public and admin procedures: within the per-address rate limit. */
const addressLimited = base.use(async ({ ctx, next }) => {
  await limitAddress(ctx);
  return next();
});

export const router = t.router;
export const publicProcedure = addressLimited;
export const createCallerFactory = t.createCallerFactory;

/**
 * End-user procedures: a valid `Authorization: Bearer <JWT>` from the host app, within the per-user
 * rate limit. A call with a valid token is limited per user only: a host's backend calls for all
 * its users from one address (spending credits, reading entitlements), which the per-address limit
 * would cap for all of them together. A call without one counts against its address.
 *
 * A read token (`"settle_scope": "read"`) may call queries and subscriptions only: every user mutation,
 * today's and any added later, is refused with FORBIDDEN. Invariant: no user query or subscription
 * changes anything, since read tokens rely on the procedure type alone.
 */
export const userProcedure = base.use(async ({ ctx, type, next }) => {
  if (!ctx.user) {
    await limitAddress(ctx);
    throw new TRPCError({ code: 'UNAUTHORIZED', message: 'a valid user token is required' });
  }
  if (ctx.limits) {
    const wait = await ctx.limits.userRequest(ctx.user.id);
    if (wait !== null) throw tooManyRequests(ctx, wait, 'too many requests for this user');
  }
  if (type === 'mutation' && ctx.user.access !== 'full') {
    throw new TRPCError({
      code: 'FORBIDDEN',
      message: 'this token is read-only ("settle_scope": "read"): this call needs a full user token (one without a settle_scope claim), which only the host\'s backend should hold',
    });
  }
  return next({ ctx: { ...ctx, user: ctx.user } });
});

/**
 * Admin procedures: an admin session or API token with at least `role`
 * (viewer reads; operator overrides, reconciles, refunds, replays; owner changes flags and admins).
 */
export function adminProcedure(role: AdminRole) {
  return addressLimited.use(({ ctx, type, next }) => {
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
  UNAVAILABLE: 'SERVICE_UNAVAILABLE',
} as const satisfies Record<DomainErrorCode, TRPCError['code']>;

/** The one mapping from domain failure codes to tRPC error codes. */
export function domainError(code: DomainErrorCode, message: string): TRPCError {
  return new TRPCError({ code: TRPC_CODES[code], message });
}
