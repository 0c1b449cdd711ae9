import { initTRPC, TRPCError } from '@trpc/server';
import { ZodError } from 'zod';
import type { AppDeps } from '../app-deps.js';
import type { EndUser } from '../lib/user-auth.js';

export type Context = {
  deps: AppDeps;
  user: EndUser | null;
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
