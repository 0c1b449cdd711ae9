/** A fault that retrying cannot fix (bad data, a broken invariant): the event goes to the dead letters at once. */
export class PermanentError extends Error {
  override name = 'PermanentError';
}

const TRANSIENT_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH']);

/**
 * Whether retrying may help. Database connectivity, serialization and resource errors, network
 * errors and Stripe 5xx or timeouts are transient; `PermanentError` is not. Anything unknown is
 * retried on the schedule (and ends dead, never lost) rather than dropped.
 */
export function isTransient(err: unknown): boolean {
  if (err instanceof PermanentError) return false;
  const e = err as { code?: unknown; statusCode?: unknown; type?: unknown };
  if (typeof e?.code === 'string') {
    if (TRANSIENT_NODE_CODES.has(e.code)) return true;
    // SQLSTATE classes: 08 connection, 40 transaction rollback, 53 resources, 57 operator intervention.
    if (/^(08|40|53|57)/.test(e.code)) return true;
    if (/^(22|23|42)/.test(e.code)) return false;
  }
  if (typeof e?.statusCode === 'number') return e.statusCode >= 500 || e.statusCode === 429;
  return true;
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`.slice(0, 2000);
  return String(err).slice(0, 2000);
}
