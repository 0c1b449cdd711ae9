import { pruneHostOutbox, type Db } from '@settle/db';
import type { Logger } from 'pino';
import { errorMessage } from '../lib/errors.js';

export type OutboxRetention = {
  /** Prune now (also what each scheduled run does); answers what was deleted. */
  prune(): Promise<{ delivered: number; dead: number; unsent: number }>;
  stop(): Promise<void>;
};

/**
 * Keeps the host outbox to `retentionDays` of history on every instance, whether or not this one
 * sends (without `HOST_WEBHOOK_URL` changes still wait in the outbox for a host configured later,
 * but no longer than that). Deleting is idempotent and batched, so instances may overlap.
 */
export function startOutboxRetention(opts: { db: Db; logger: Logger; retentionDays: number; everyMs: number; batch?: number }): OutboxRetention {
  let current: Promise<{ delivered: number; dead: number; unsent: number }> | null = null;
  const prune = () => {
    current ??= pruneHostOutbox(opts.db, { retentionDays: opts.retentionDays, batch: opts.batch ?? 1000 })
      .then((pruned) => {
        if (pruned.delivered + pruned.dead + pruned.unsent > 0) {
          opts.logger.info({ ...pruned, retentionDays: opts.retentionDays }, 'host outbox pruned past its retention');
        }
        if (pruned.unsent > 0) {
          opts.logger.warn({ unsent: pruned.unsent, retentionDays: opts.retentionDays }, 'host webhooks never sent (no HOST_WEBHOOK_URL) dropped past their retention');
        }
        return pruned;
      })
      .finally(() => {
        current = null;
      });
    return current;
  };
  const scheduled = () => void prune().catch((err: unknown) => opts.logger.warn({ err: errorMessage(err) }, 'host outbox pruning failed; next run on schedule'));
  const timer = opts.everyMs > 0 ? setInterval(scheduled, opts.everyMs) : null;
  timer?.unref();
  if (timer) scheduled();
  return {
    prune,
    async stop() {
      if (timer) clearInterval(timer);
      await current?.catch(() => undefined);
    },
  };
}
