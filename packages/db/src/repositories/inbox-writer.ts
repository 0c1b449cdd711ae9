import type pg from 'pg';
import { queryOnce } from '../connect.js';
import type { Db } from '../database.js';
import type { NewStripeEvent } from '../tables/stripe-event.table.js';
import { insertEvents, knownEventIds } from './stripe-event.repository.js';

export type InboxWriter = {
  /**
   * Store an event; resolves once it is committed (true) or known already (false). Rejects with
   * `InboxBusyError` when the event could not be stored in time (answer 503 at once: Stripe
   * retries), `UnstorableEventError` when PostgreSQL cannot store this payload in any form, or
   * the database's own error.
   */
  write(event: NewStripeEvent): Promise<boolean>;
  /** For readiness: how long the oldest insert in flight has been running (0 when none). */
  stalledForMs(): number;
  /** Events waiting for an insert. */
  queued(): number;
};

/** The inbox cannot take the event now (queue full, insert past its deadline): retry later. */
export class InboxBusyError extends Error {
  override name = 'InboxBusyError';
}

/** PostgreSQL refuses this payload even in its repaired form (e.g. nesting too deep): retrying cannot help. */
export class UnstorableEventError extends Error {
  override name = 'UnstorableEventError';
}

export type InboxWriterOptions = {
  maxBatch?: number;
  /**
   * Inserts in flight at once (default 1). One is the cheapest: every write that arrives while it
   * runs goes in the next insert, so a burst costs a few large inserts and commits, not one each.
   */
  maxConcurrentBatches?: number;
  /** On PostgreSQL: a prepared statement through the pool. */
  pool?: pg.Pool | null;
  /** Events waiting for an insert; past it `write` refuses at once (each holds a request and its body). */
  maxQueued?: number;
  /** A write not committed after this long is answered `InboxBusyError`; while an insert runs longer, new writes are refused at once. */
  deadlineMs?: number;
  /** Called when an event was stored in its repaired form (see `storableForm`). */
  onRepaired?: (eventId: string) => void;
};

type Pending = { event: NewStripeEvent; settled: boolean; timer: NodeJS.Timeout | null; resolve: (stored: boolean) => void; reject: (err: unknown) => void };

/**
 * Group commit for the webhook inbox. Concurrent requests' events are written together: one
 * multi-row `INSERT … ON CONFLICT DO NOTHING RETURNING id` and one commit per batch, and each
 * request is answered after its batch committed. With nothing else in flight a batch is one
 * event, so an idle server adds no latency; under load, commits (the fsyncs) are shared.
 *
 * A batch that PostgreSQL refuses for its data is retried row by row, so one bad payload never
 * fails its batch-mates. The queue is bounded and every write has a deadline, so a database that
 * stops answering (a silent partition) turns into prompt 503s rather than requests piling up.
 */
export function createInboxWriter(db: Db, opts: InboxWriterOptions = {}): InboxWriter {
  const maxBatch = opts.maxBatch ?? 256;
  const maxConcurrent = opts.maxConcurrentBatches ?? 1;
  const maxQueued = opts.maxQueued ?? 5_000;
  const deadlineMs = opts.deadlineMs ?? 5_000;
  let queue: Pending[] = [];
  const inFlight = new Set<number>();

  const insert = (events: NewStripeEvent[]) => (opts.pool ? insertPrepared(opts.pool, events) : insertEvents(db, events));
  /**
   * Ids neither stored now nor known from before. Normally none: an id not returned was a
   * duplicate. PGlite, though, answers some payloads it cannot store (deep nesting) with no row
   * and no error; such an event must not be acknowledged as a duplicate. PostgreSQL refuses such
   * a row with an error instead, so there (the pool) a missing id is a duplicate, and a batch with
   * a redelivery in it costs no second query.
   */
  const unaccounted = async (events: NewStripeEvent[], stored: Set<string>) => {
    if (opts.pool) return [];
    const missing = events.map((e) => e.id).filter((id) => !stored.has(id));
    if (missing.length === 0) return [];
    const known = await knownEventIds(db, missing);
    return missing.filter((id) => !known.has(id));
  };
  const settle = (p: Pending, outcome: { stored: boolean } | { err: unknown }) => {
    if (p.settled) return;
    p.settled = true;
    if (p.timer) clearTimeout(p.timer);
    if ('err' in outcome) p.reject(outcome.err);
    else p.resolve(outcome.stored);
  };

  /** One event alone: stored (true) or known (false); refused when even its repaired form cannot be stored. */
  async function insertAlone(event: NewStripeEvent): Promise<boolean> {
    const attempt = async (e: NewStripeEvent) => {
      const stored = await insert([e]);
      if ((await unaccounted([e], stored)).length > 0) throw new UnstorableEventError('payload cannot be stored: the database stored nothing');
      return stored.has(e.id);
    };
    try {
      return await attempt(event);
    } catch (err) {
      if (!isRowFault(err) && !(err instanceof UnstorableEventError)) throw err;
      const repaired = storableForm(event.payload as string);
      if (repaired === null || repaired === event.payload) throw new UnstorableEventError(`payload cannot be stored: ${(err as Error).message}`);
      try {
        const stored = await attempt({ ...event, payload: repaired });
        if (stored) opts.onRepaired?.(event.id);
        return stored;
      } catch (again) {
        if (isRowFault(again)) throw new UnstorableEventError(`payload cannot be stored: ${(again as Error).message}`);
        throw again;
      }
    }
  }

  async function flush(batch: Pending[]) {
    // One row per event id: a redelivery inside the same batch is answered like any duplicate.
    const first = new Map<string, Pending>();
    for (const p of batch) if (!first.has(p.event.id)) first.set(p.event.id, p);
    const events = [...first.values()].map((p) => p.event);
    let stored = new Set<string>();
    try {
      stored = await insert(events);
      if ((await unaccounted(events, stored)).length === 0) {
        for (const p of batch) settle(p, { stored: first.get(p.event.id) === p && stored.has(p.event.id) });
        return;
      }
    } catch (err) {
      if (!isRowFault(err)) {
        for (const p of batch) settle(p, { err });
        return;
      }
    }
    // Row by row: each event succeeds or fails on its own (those the batch did store are done).
    const outcome = new Map<string, { stored: boolean } | { err: unknown }>();
    for (const e of events) {
      if (stored.has(e.id)) {
        outcome.set(e.id, { stored: true });
        continue;
      }
      try {
        outcome.set(e.id, { stored: await insertAlone(e) });
      } catch (err) {
        outcome.set(e.id, { err });
      }
    }
    for (const p of batch) {
      const o = outcome.get(p.event.id)!;
      settle(p, 'err' in o ? o : { stored: first.get(p.event.id) === p && o.stored });
    }
  }

  function pump() {
    while (inFlight.size < maxConcurrent && queue.length > 0) {
      // Writes already answered (their deadline passed) need no insert: Stripe will send them again.
      const live = queue.filter((p) => !p.settled);
      const batch = live.slice(0, maxBatch);
      queue = live.slice(batch.length);
      if (batch.length === 0) return;
      const started = Date.now();
      inFlight.add(started);
      void flush(batch).finally(() => {
        inFlight.delete(started);
        pump();
      });
    }
  }

  const stalledForMs = () => {
    let oldest = Infinity;
    for (const t of inFlight) oldest = Math.min(oldest, t);
    return oldest === Infinity ? 0 : Date.now() - oldest;
  };

  return {
    write(event) {
      if (queue.length >= maxQueued) return Promise.reject(new InboxBusyError('inbox queue is full'));
      if (inFlight.size >= maxConcurrent && stalledForMs() > deadlineMs) return Promise.reject(new InboxBusyError('inbox inserts are stalled'));
      return new Promise<boolean>((resolve, reject) => {
        const p: Pending = { event, settled: false, timer: null, resolve, reject };
        p.timer = setTimeout(() => settle(p, { err: new InboxBusyError(`event not stored within ${deadlineMs} ms`) }), deadlineMs);
        queue.push(p);
        pump();
      });
    },
    stalledForMs,
    queued: () => queue.length,
  };
}

/**
 * Whether PostgreSQL refused the data itself (SQLSTATE 22 data exception, 23 integrity, 54
 * program limit such as nesting depth) rather than the connection or the server: retrying the
 * same row cannot help, its batch-mates can.
 */
function isRowFault(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && /^(22|23|54)/.test(code);
}

/**
 * A payload as jsonb can hold it: PostgreSQL refuses `\u0000` and unpaired UTF-16 surrogates in
 * JSON strings, which valid JSON (and so a validly signed Stripe event) may contain. They become
 * U+FFFD, in keys and values; everything else is kept. Null when the text is not JSON at all.
 */
export function storableForm(payload: string): string | null {
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return null;
  }
  const clean = (s: string) => s.replace(/\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return clean(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [clean(k), walk(x)]));
    return v;
  };
  try {
    return JSON.stringify(walk(value));
  } catch {
    // Nesting too deep for the walk: PostgreSQL could not store it either.
    return null;
  }
}

/**
 * The same insert as one named, prepared statement whatever the batch size (columns as arrays
 * through `unnest`): PostgreSQL parses and plans it once per connection. `unnest` yields the rows
 * in array order, so the sorted arrays are inserted in that order.
 */
const PREPARED_INSERT = {
  name: 'settle_inbox_insert',
  // A row stored already settled (a type Settle never acts on: its state and outcome given) is
  // processed as of its insert; every other row is pending, as the column's default says.
  text: `insert into stripe_events (id, type, object_id, stripe_created, api_version, livemode, payload, state, outcome, processed_at)
         select id, type, object_id, stripe_created, api_version, livemode, payload, coalesce(state, 'pending'), outcome, case when state is not null then now() end
         from unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::boolean[], $7::jsonb[], $8::text[], $9::text[])
              as e(id, type, object_id, stripe_created, api_version, livemode, payload, state, outcome)
         on conflict (id) do nothing
         returning id`,
};

async function insertPrepared(pool: pg.Pool, unordered: NewStripeEvent[]): Promise<Set<string>> {
  // In id order: two instances inserting overlapping batches (a redelivery reaching both) take the
  // rows' locks in the same order, so neither waits for the other in a circle (a deadlock would
  // fail both batches' requests after a second). PostgreSQL only: PGlite has one connection.
  // (`flush` has already kept one row per id.)
  const events = [...unordered].sort((x, y) => (x.id < y.id ? -1 : 1));
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
      col((e) => e.state ?? null),
      col((e) => e.outcome ?? null),
    ],
  });
  return new Set(result.rows.map((r) => r.id));
}
