import { sql } from 'kysely';
import type { Db, Trx } from '../database.js';

/** SQLSTATE of a lock wait that hit `lock_timeout`. */
const LOCK_NOT_AVAILABLE = '55P03';

/** Whether an error is a lock wait cut short by `boundLockWaits`. */
export function isLockNotAvailable(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === LOCK_NOT_AVAILABLE;
}

/** Bound every lock wait of this transaction, so batches give up on a held row instead of deadlocking. */
export async function boundLockWaits(trx: Trx, ms: number): Promise<void> {
  await sql.raw(`set local lock_timeout = '${Math.max(1, Math.round(ms))}ms'`).execute(trx);
}

/**
 * Run `work` under a savepoint: a throw rolls back only what `work` wrote, and is rethrown for
 * the caller to record.
 */
export async function inSavepoint<T>(trx: Trx, work: () => Promise<T>): Promise<T> {
  await sql`savepoint settle_event`.execute(trx);
  try {
    const result = await work();
    await sql`release savepoint settle_event`.execute(trx);
    return result;
  } catch (err) {
    await sql`rollback to savepoint settle_event`.execute(trx);
    throw err;
  }
}

/** Give claimed events back to the queue at once (their lease dropped), for a later claim. */
export async function returnEventsToQueue(trx: Trx, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await trx.updateTable('stripe_events').set({ locked_until: null, locked_by: null }).where('id', 'in', ids).execute();
}

/**
 * Lease unsettled events to this worker for `leaseMs` (taken over only once it expires): while it
 * reads Stripe for them outside any transaction, another worker's claim passes them by instead
 * of asking Stripe the same again.
 */
export async function leaseEvents(db: Db | Trx, ids: string[], lease: { workerId: string; ms: number }): Promise<void> {
  if (ids.length === 0) return;
  await db
    .updateTable('stripe_events')
    .set({ locked_until: sql<Date>`now() + ${`${Math.max(0, Math.round(lease.ms))} milliseconds`}::interval`, locked_by: lease.workerId })
    .where('id', 'in', ids)
    .where('state', 'in', ['pending', 'failed'])
    .execute();
}

/** Drop this worker's leases on unsettled events, so the next claim (any worker's) takes them at once. */
export async function dropLeases(db: Db | Trx, ids: string[], workerId: string): Promise<void> {
  if (ids.length === 0) return;
  await db
    .updateTable('stripe_events')
    .set({ locked_until: null, locked_by: null })
    .where('id', 'in', ids)
    .where('locked_by', '=', workerId)
    .where('state', 'in', ['pending', 'failed'])
    .execute();
}
