import type pg from 'pg';
import { queryOnce } from '../connect.js';
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
export function createInboxWriter(
  db: Db,
  opts: { maxBatch?: number; maxConcurrentBatches?: number; /** On PostgreSQL: a prepared statement through the pool. */ pool?: pg.Pool | null } = {},
): InboxWriter {
  const maxBatch = opts.maxBatch ?? 256;
  const maxConcurrent = opts.maxConcurrentBatches ?? 2;
  let queue: Pending[] = [];
  let inFlight = 0;

  async function flush(batch: Pending[]) {
    // One row per event id: a redelivery inside the same batch is answered like any duplicate.
    const first = new Map<string, Pending>();
    for (const p of batch) if (!first.has(p.event.id)) first.set(p.event.id, p);
    try {
      const events = [...first.values()].map((p) => p.event);
      const stored = opts.pool ? await insertPrepared(opts.pool, events) : await insertWithKysely(db, events);
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

async function insertWithKysely(db: Db, events: NewStripeEvent[]): Promise<Set<string>> {
  const rows = await db
    .insertInto('stripe_events')
    .values(events)
    .onConflict((oc) => oc.column('id').doNothing())
    .returning('id')
    .execute();
  return new Set(rows.map((r) => r.id));
}

/**
 * The same insert as one named, prepared statement whatever the batch size (columns as arrays
 * through `unnest`): PostgreSQL parses and plans it once per connection.
 */
const PREPARED_INSERT = {
  name: 'settle_inbox_insert',
  text: `insert into stripe_events (id, type, object_id, stripe_created, api_version, livemode, payload)
         select * from unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::boolean[], $7::jsonb[])
         on conflict (id) do nothing
         returning id`,
};

async function insertPrepared(pool: pg.Pool, events: NewStripeEvent[]): Promise<Set<string>> {
  const col = <T>(pick: (e: NewStripeEvent) => T) => events.map(pick);
  const result = await queryOnce<{ id: string }>(pool, {
    ...PREPARED_INSERT,
    values: [
      col((e) => e.id),
      col((e) => e.type),
      col((e) => e.object_id ?? null),
      col((e) => e.stripe_created),
      col((e) => e.api_version ?? null),
      col((e) => e.livemode ?? false),
      col((e) => e.payload),
    ],
  });
  return new Set(result.rows.map((r) => r.id));
}
