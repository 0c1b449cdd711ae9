import { spendCredits, type CreditSpendResult, type Db } from '@settle/db';
import { createKeyedQueue } from '../lib/keyed-queue.js';
import type { Metrics } from '../lib/metrics.js';

export type CreditSpender = {
  spend(s: { userId: string; credits: number; idempotencyKey: string; note: string | null }): Promise<CreditSpendResult>;
};

/**
 * Spends go one at a time per user within this process before they take a database connection:
 * the row lock serialises them anyway, and a burst from one user would otherwise hold every pooled
 * connection waiting on that lock, starving everyone else. Correctness across instances rests on
 * the database (row lock, `credits >= 0`, unique key), not on this queue.
 */
export function createCreditSpender(deps: { db: Db; metrics: Metrics; onSpent?: () => void }): CreditSpender {
  const perUser = createKeyedQueue();
  return {
    async spend(s) {
      const result = await perUser(s.userId, () => deps.db.transaction().execute((trx) => spendCredits(trx, s)));
      if (result.ok && !result.repeated) {
        deps.metrics.creditsConsumed.inc(result.consumed);
        deps.onSpent?.();
      }
      return result;
    },
  };
}
