import type { Db } from '../database.js';
import type { NewStripeEvent } from '../tables/stripe-event.table.js';

export type InboxWriter = {
  /** Store an event; resolves once it is committed (true) or known already (false). */
  write(event: NewStripeEvent): Promise<boolean>;
};

type Pending = { event: NewStripeEvent; resolve: (stored: boolean) => void; reject: (err: unknown) => void };

/**
 * Group commit for the webhook inbox. Concurrent requests' events are written together: one
 * multi-row `INSERT … ON CONFLICT DO NOTHING RETURNING id` and one commit per batch, and each
 * request is answered after its batch committed. With nothing else in flight a batch is one
 * event, so an idle server adds no latency; under load, commits (the fsyncs) are shared.
 */
export function createInboxWriter(db: Db, opts: { maxBatch?: number; maxConcurrentBatches?: number } = {}): InboxWriter {
  const maxBatch = opts.maxBatch ?? 256;
  const maxConcurrent = opts.maxConcurrentBatches ?? 2;
  let queue: Pending[] = [];
  let inFlight = 0;

  async function flush(batch: Pending[]) {
    // One row per event id: a redelivery inside the same batch is answered like any duplicate.
    const first = new Map<string, Pending>();
    for (const p of batch) if (!first.has(p.event.id)) first.set(p.event.id, p);
    try {
      const rows = await db
        .insertInto('stripe_events')
        .values([...first.values()].map((p) => p.event))
        .onConflict((oc) => oc.column('id').doNothing())
        .returning('id')
        .execute();
      const stored = new Set(rows.map((r) => r.id));
      for (const p of batch) p.resolve(first.get(p.event.id) === p && stored.has(p.event.id));
    } catch (err) {
      for (const p of batch) p.reject(err);
    }
  }

  function pump() {
    while (inFlight < maxConcurrent && queue.length > 0) {
      const batch = queue.slice(0, maxBatch);
      queue = queue.slice(batch.length);
      inFlight += 1;
      void flush(batch).finally(() => {
        inFlight -= 1;
        pump();
      });
    }
  }

  return {
    write(event) {
      return new Promise<boolean>((resolve, reject) => {
        queue.push({ event, resolve, reject });
        pump();
      });
    },
  };
}
