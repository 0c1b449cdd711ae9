import { randomUUID } from 'node:crypto';
import { TRPCError } from '@trpc/server';
import type { Logger } from 'pino';
import { errorMessage, isTransient } from '../lib/errors.js';

/**
 * The one place an unexpected error becomes what a client sees. Clients get a code and a plain
 * message with a reference; the details (SQL, addresses, stacks) go to the log under that
 * reference. Errors a caller can cause with odd input (PostgreSQL data exceptions) are
 * `BAD_REQUEST` and a warning, and an unreachable database is `SERVICE_UNAVAILABLE` and a
 * warning, so no caller can fill the error log.
 */
export function toPublicError(cause: unknown, log: Logger, where: { path?: string | undefined }): TRPCError {
  const reference = randomUUID();
  const code = (cause as { code?: unknown })?.code;
  if (typeof code === 'string' && code.startsWith('22')) {
    log.warn({ reference, path: where.path, err: errorMessage(cause) }, 'input refused by the database');
    return new TRPCError({ code: 'BAD_REQUEST', message: `input is not valid (reference ${reference})` });
  }
  if (isInfrastructureFault(cause)) {
    log.warn({ reference, path: where.path, err: errorMessage(cause) }, 'request failed: a dependency is unavailable');
    return new TRPCError({ code: 'SERVICE_UNAVAILABLE', message: `temporarily unavailable, try again (reference ${reference})` });
  }
  log.error({ reference, path: where.path, err: errorMessage(cause), stack: (cause as Error)?.stack }, 'unexpected error in a tRPC procedure');
  return new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: `something went wrong on our side (reference ${reference})` });
}

/** A fault of the database or network rather than of the code: connection refused, timed out, server shutting down. */
function isInfrastructureFault(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  if (typeof e?.message === 'string' && /timeout|terminated|Connection ended/i.test(e.message)) return true;
  return typeof e?.code === 'string' && (/^(08|53|57)/.test(e.code) || /^E[A-Z]+$/.test(e.code)) && isTransient(err);
}

/** An error that was not thrown on purpose (a `TRPCError` without a cause is deliberate). */
export function isUnexpected(error: TRPCError): boolean {
  return error.code === 'INTERNAL_SERVER_ERROR' && error.cause !== undefined && !(error.cause instanceof TRPCError);
}
