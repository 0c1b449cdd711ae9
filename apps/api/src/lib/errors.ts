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

export type StripeFailure = { ok: false; code: 'NOT_FOUND' | 'INVALID' | 'UNAVAILABLE'; message: string };

/**
 * What a failed Stripe API call means for the operator who asked: Stripe has no such object
 * (`NOT_FOUND`, e.g. the order was made against another Stripe account or a restarted simulator),
 * Stripe refused the request (`INVALID`, with Stripe's reason), or Stripe could not be reached
 * (`UNAVAILABLE`: try again). Never a 500.
 */
export function stripeFailure(err: unknown, what: string): StripeFailure {
  const e = err as { statusCode?: unknown; code?: unknown; message?: unknown };
  const message = typeof e?.message === 'string' ? e.message.slice(0, 500) : 'error';
  if (e?.statusCode === 404 || e?.code === 'resource_missing' || /^No such /.test(message)) {
    return { ok: false, code: 'NOT_FOUND', message: `Stripe does not know this ${what}'s object: ${message}` };
  }
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500 && e.statusCode !== 429) {
    return { ok: false, code: 'INVALID', message: `Stripe refused the ${what}: ${message}` };
  }
  return { ok: false, code: 'UNAVAILABLE', message: 'Stripe is unavailable; try again' };
}

/** An error the Stripe SDK raised (API refusal, connection, rate limit), as opposed to ours. */
export function isStripeError(err: unknown): boolean {
  const type = (err as { type?: unknown })?.type;
  return typeof type === 'string' && type.startsWith('Stripe');
}
