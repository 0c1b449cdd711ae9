import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Db, Trx } from '../database.js';
import { entitlementsView, type EntitlementRow } from '../tables/grant.table.js';
import type {
  HostDeliveryAttemptRow,
  HostDeliveryRow,
  HostDeliveryState,
  HostEventBody,
  HostEventType,
} from '../tables/host-delivery.table.js';

/**
 * Write a message to the host outbox inside the caller's transaction, so it commits or rolls back
 * with the change it reports. The user's entitlement row is locked (created if missing) and its
 * `host_sequence` counter gives the message its number: every writer for one user waits on that
 * lock, so numbers follow commit order. A second message about the same thing (`coalesceKey`) in
 * the same transaction replaces the first one's data and keeps its number: the host hears the
 * committed state, once.
 */
async function enqueue(
  trx: Trx,
  m: { userId: string; type: HostEventType; coalesceKey: string; data: (entitlement: EntitlementRow) => Record<string, unknown> },
  locked?: EntitlementRow,
): Promise<void> {
  let entitlement = locked;
  if (!entitlement) {
    await trx
      .insertInto('entitlements')
      .values({ user_id: m.userId, plan: null, subscription_status: null, plan_period_end: null })
      .onConflict((oc) => oc.column('user_id').doNothing())
      .execute();
    entitlement = await trx.selectFrom('entitlements').selectAll().where('user_id', '=', m.userId).forUpdate().executeTakeFirstOrThrow();
  }
  const timestamp = new Date().toISOString();
  const same = await trx
    .selectFrom('host_deliveries')
    .select(['id', 'sequence'])
    // This transaction's rows: its id, and its start time (ids repeat on another cluster; see
    // migration 20261203190000), both in the unique key.
    .where('transaction_id', '=', sql<number>`txid_current()`)
    .where('created_at', '=', sql<Date>`now()`)
    .where('user_id', '=', m.userId)
    .where('coalesce_key', '=', m.coalesceKey)
    .executeTakeFirst();
  if (same) {
    const body: HostEventBody = { type: m.type, timestamp, sequence: Number(same.sequence), data: m.data(entitlement) };
    await trx.updateTable('host_deliveries').set({ payload: JSON.stringify(body) }).where('id', '=', same.id).execute();
    return;
  }
  const next = await trx
    .updateTable('entitlements')
    .set({ host_sequence: sql`host_sequence + 1` })
    .where('user_id', '=', m.userId)
    .returning('host_sequence')
    .executeTakeFirstOrThrow();
  const sequence = Number(next.host_sequence);
  const body: HostEventBody = { type: m.type, timestamp, sequence, data: m.data(entitlement) };
  await sql`
    insert into host_deliveries (id, user_id, sequence, type, payload, transaction_id, coalesce_key)
    values (${randomUUID()}, ${m.userId}, ${sequence}, ${m.type}, ${JSON.stringify(body)}::jsonb, txid_current(), ${m.coalesceKey})`.execute(trx);
}

/**
 * Tell the host the user's entitlements as they now are. Call it in the transaction that changed
 * the entitlement row, after the change; pass the row as the change returned it (still locked) to
 * save reading it again.
 */
export async function enqueueEntitlementsUpdated(trx: Trx, userId: string, current?: EntitlementRow): Promise<void> {
  await enqueue(
    trx,
    { userId, type: 'entitlements.updated', coalesceKey: 'entitlements', data: (row) => ({ userId, ...entitlementsView(row) }) },
    current,
  );
}

/** Tell the host an order's status changed; `order` is the order as the API shows it. */
export async function enqueueOrderUpdated(trx: Trx, order: { userId: string; orderId: string } & Record<string, unknown>): Promise<void> {
  await enqueue(trx, { userId: order.userId, type: 'order.updated', coalesceKey: `order:${order.orderId}`, data: () => order });
}

/**
 * A host message held back by a batch, to be written with the batch's others (`writeHostMessages`)
 * before its commit. `data` null: the user's entitlements as they are when written.
 */
export type HostMessageDraft = { userId: string; type: HostEventType; coalesceKey: string; data: Record<string, unknown> | null };

/** An entitlements message for a batch's buffer (see `enqueueEntitlementsUpdated`). */
export const entitlementsUpdatedDraft = (userId: string): HostMessageDraft => ({ userId, type: 'entitlements.updated', coalesceKey: 'entitlements', data: null });

/**
 * Lock the entitlement rows of many users (created if missing) in user order, in two statements;
 * returns them as they are.
 */
export async function lockEntitlements(trx: Trx, userIds: readonly string[]): Promise<Map<string, EntitlementRow>> {
  const users = [...new Set(userIds)].sort();
  if (users.length === 0) return new Map();
  await trx
    .insertInto('entitlements')
    .values(users.map((user_id) => ({ user_id, plan: null, subscription_status: null, plan_period_end: null })))
    .onConflict((oc) => oc.column('user_id').doNothing())
    .execute();
  const rows = await trx.selectFrom('entitlements').selectAll().where('user_id', 'in', users).orderBy('user_id').forUpdate().execute();
  return new Map(rows.map((r) => [r.user_id, r]));
}

/**
 * `enqueue` for many messages in a few statements, with the same guarantees: a message about the
 * same thing (user and `coalesceKey`) as an earlier one of this transaction replaces its data and
 * keeps its number; numbers per user follow the order the messages were drafted in, taken under
 * the lock of the users' entitlement rows (locked in user order).
 */
export async function writeHostMessages(
  trx: Trx,
  drafts: readonly HostMessageDraft[],
  /** Entitlement rows the transaction has locked and holds as they now are (`lockEntitlements`); the others are locked here. */
  locked?: ReadonlyMap<string, EntitlementRow>,
): Promise<void> {
  const merged = new Map<string, HostMessageDraft>();
  for (const d of drafts) {
    const key = `${d.userId}\u0000${d.coalesceKey}`;
    const first = merged.get(key);
    merged.set(key, first ? { ...first, type: d.type, data: d.data } : d);
  }
  if (merged.size === 0) return;
  const users = [...new Set([...merged.values()].map((m) => m.userId))].sort();
  const missing = users.filter((u) => !locked?.has(u));
  const entitlements = new Map([...(locked ?? []), ...(await lockEntitlements(trx, missing))]);
  const earlier = new Map(
    (
      await trx
        .selectFrom('host_deliveries')
        .select(['id', 'sequence', 'user_id', 'coalesce_key'])
        .where('transaction_id', '=', sql<number>`txid_current()`)
        .where('created_at', '=', sql<Date>`now()`)
        .where('user_id', 'in', users)
        .execute()
    ).map((r) => [`${r.user_id}\u0000${r.coalesce_key}`, r]),
  );
  const timestamp = new Date().toISOString();
  const body = (m: HostMessageDraft, sequence: number): HostEventBody => ({
    type: m.type,
    timestamp,
    sequence,
    data: m.data ?? { userId: m.userId, ...entitlementsView(entitlements.get(m.userId)) },
  });
  const replaced: { id: string; payload: string }[] = [];
  const fresh: HostMessageDraft[] = [];
  for (const [key, m] of merged) {
    const same = earlier.get(key);
    if (same) replaced.push({ id: same.id, payload: JSON.stringify(body(m, Number(same.sequence))) });
    else fresh.push(m);
  }
  if (replaced.length > 0) {
    await sql`
      update host_deliveries as d set payload = v.payload::jsonb
      from (values ${sql.join(replaced.map((r) => sql`(${r.id}::uuid, ${r.payload})`))}) as v(id, payload)
      where d.id = v.id`.execute(trx);
  }
  if (fresh.length === 0) return;
  const counts = new Map<string, number>();
  for (const m of fresh) counts.set(m.userId, (counts.get(m.userId) ?? 0) + 1);
  const last = await sql<{ user_id: string; host_sequence: string | number }>`
    update entitlements as e set host_sequence = e.host_sequence + v.n::int
    from (values ${sql.join([...counts].map(([u, n]) => sql`(${u}, ${n})`))}) as v(user_id, n)
    where e.user_id = v.user_id
    returning e.user_id, e.host_sequence`.execute(trx);
  const next = new Map(last.rows.map((r) => [r.user_id, Number(r.host_sequence) - counts.get(r.user_id)! + 1]));
  const rows = fresh.map((m) => {
    const sequence = next.get(m.userId)!;
    next.set(m.userId, sequence + 1);
    return sql`(${randomUUID()}::uuid, ${m.userId}, ${sequence}, ${m.type}, ${JSON.stringify(body(m, sequence))}::jsonb, txid_current(), ${m.coalesceKey})`;
  });
  await sql`insert into host_deliveries (id, user_id, sequence, type, payload, transaction_id, coalesce_key) values ${sql.join(rows)}`.execute(trx);
}

/**
 * Claim deliveries that are due, under a lease, at most one per user: a message waits while an
 * older one of the same user is still pending, so a host receives each user's changes in order.
 * `FOR UPDATE SKIP LOCKED` lets any number of instances share the outbox.
 */
export async function claimDueDeliveries(db: Db, opts: { limit: number; leaseMs: number; workerId: string }): Promise<HostDeliveryRow[]> {
  const r = await sql<HostDeliveryRow>`
    update host_deliveries set locked_until = now() + ${`${opts.leaseMs} milliseconds`}::interval, locked_by = ${opts.workerId}
    where id in (
      select d.id from host_deliveries d
      where d.state = 'pending' and d.next_attempt_at <= now()
        and (d.locked_until is null or d.locked_until < now())
        and not exists (
          select 1 from host_deliveries older
          where older.user_id = d.user_id and older.state = 'pending' and older.sequence < d.sequence)
      order by d.next_attempt_at, d.id
      limit ${opts.limit}
      for update skip locked
    )
    returning *`.execute(db);
  return r.rows;
}

export type DeliveryAttempt = {
  attemptedAt: Date;
  durationMs: number;
  responseStatus: number | null;
  responseBody: string | null;
  error: string | null;
};

export type DeliveryOutcome = { kind: 'delivered' } | { kind: 'retry'; nextAttemptAt: Date } | { kind: 'dead' };

/**
 * Record one attempt and what follows from it. The delivery's state moves only while this worker
 * still holds its lease; a worker that lost it (it ran past the lease) only adds its attempt.
 */
export async function recordDeliveryAttempt(
  db: Db,
  d: { deliveryId: string; workerId: string; attempt: DeliveryAttempt; outcome: DeliveryOutcome },
): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    await trx
      .insertInto('host_delivery_attempts')
      .values({
        delivery_id: d.deliveryId,
        attempted_at: d.attempt.attemptedAt,
        duration_ms: Math.round(d.attempt.durationMs),
        response_status: d.attempt.responseStatus,
        response_body: d.attempt.responseBody,
        error: d.attempt.error,
        worker: d.workerId,
      })
      .execute();
    const base = { attempts: sql<number>`attempts + 1`, locked_until: null, locked_by: null };
    const lastError = d.attempt.error ?? (d.attempt.responseStatus !== null ? `HTTP ${d.attempt.responseStatus}` : null);
    const changes =
      d.outcome.kind === 'delivered'
        ? { ...base, state: 'delivered' as const, delivered_at: sql<Date>`now()` }
        : d.outcome.kind === 'retry'
          ? { ...base, next_attempt_at: d.outcome.nextAttemptAt, last_error: lastError }
          : { ...base, state: 'dead' as const, dead_at: sql<Date>`now()`, last_error: lastError };
    const r = await trx
      .updateTable('host_deliveries')
      .set(changes)
      .where('id', '=', d.deliveryId)
      .where('locked_by', '=', d.workerId)
      .where('state', '=', 'pending')
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  });
}

/** Give back a worker's leases (graceful shutdown), so another instance sends them at once. */
export async function releaseDeliveryLeases(db: Db, workerId: string): Promise<number> {
  const r = await db.updateTable('host_deliveries').set({ locked_until: null, locked_by: null }).where('locked_by', '=', workerId).executeTakeFirst();
  return Number(r.numUpdatedRows);
}

export type DeliveryListFilter = {
  state?: HostDeliveryState;
  userId?: string;
  type?: HostEventType;
  cursor?: { createdAt: string; id: string };
  limit: number;
};

/** Deliveries, newest first (keyset on created_at, id), with their attempt count. */
export async function listDeliveries(db: Db, f: DeliveryListFilter) {
  let q = db
    .selectFrom('host_deliveries')
    .select([
      'id',
      'user_id',
      'sequence',
      'type',
      'state',
      'attempts',
      'next_attempt_at',
      'last_error',
      'created_at',
      'delivered_at',
      'dead_at',
      sql<string>`to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`.as('cursor_at'),
    ]);
  if (f.state) q = q.where('state', '=', f.state);
  if (f.userId) q = q.where('user_id', '=', f.userId);
  if (f.type) q = q.where('type', '=', f.type);
  // The cursor's time as text, to the microsecond: a JS Date would cut it to milliseconds and skip
  // the rest of a transaction's messages, which share its `now()`.
  if (f.cursor) q = q.where(sql<boolean>`(created_at, id) < (${f.cursor.createdAt}::timestamptz, ${f.cursor.id}::uuid)`);
  return q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(f.limit).execute();
}

export async function getDelivery(db: Db | Trx, id: string): Promise<HostDeliveryRow | undefined> {
  return db.selectFrom('host_deliveries').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function listDeliveryAttempts(db: Db | Trx, deliveryId: string): Promise<HostDeliveryAttemptRow[]> {
  return db.selectFrom('host_delivery_attempts').selectAll().where('delivery_id', '=', deliveryId).orderBy('id').execute();
}

export async function lockDelivery(trx: Trx, id: string): Promise<HostDeliveryRow | undefined> {
  return trx.selectFrom('host_deliveries').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
}

export async function lockDeadDeliveriesSince(trx: Trx, since: Date, limit: number): Promise<string[]> {
  const rows = await trx
    .selectFrom('host_deliveries')
    .select('id')
    .where('state', '=', 'dead')
    .where('dead_at', '>=', since)
    .orderBy('dead_at')
    .limit(limit)
    .forUpdate()
    .execute();
  return rows.map((r) => r.id);
}

/**
 * Send deliveries again from the first attempt of the schedule (their attempt history stays).
 * Returns the time stamped on them, which `countReplayedDeliveries` follows.
 */
export async function requeueDeliveries(trx: Trx, ids: string[]): Promise<Date> {
  const at = new Date();
  if (ids.length === 0) return at;
  await trx
    .updateTable('host_deliveries')
    .set({ state: 'pending', attempts: 0, next_attempt_at: sql`now()`, locked_until: null, locked_by: null, dead_at: null, replayed_at: at })
    .where('id', 'in', ids)
    .execute();
  return at;
}

/**
 * Make a pending delivery due now, keeping its attempts (the retry budget goes on where it was),
 * with every older pending delivery of its user: it is sent only after them (per-user order), so
 * they are what it waits behind. Deliveries already due are left as they are. Returns the ids
 * brought forward and the time stamped on them (`countReplayedDeliveries` follows it).
 */
export async function bringDeliveriesForward(trx: Trx, d: { userId: string; sequence: number }): Promise<{ ids: string[]; at: Date }> {
  const at = new Date();
  const rows = await trx
    .updateTable('host_deliveries')
    .set({ next_attempt_at: sql`now()`, replayed_at: at })
    .where('user_id', '=', d.userId)
    .where('state', '=', 'pending')
    .where('sequence', '<=', d.sequence)
    .where('next_attempt_at', '>', sql<Date>`now()`)
    .returning('id')
    .execute();
  return { ids: rows.map((r) => r.id), at };
}

/** Deliveries replayed at or after `since`, by state: the progress of a bulk replay. */
export async function countReplayedDeliveries(db: Db, since: Date): Promise<Record<HostDeliveryState, number>> {
  const rows = await db
    .selectFrom('host_deliveries')
    .select(['state', sql<number>`count(*)::int`.as('n')])
    .where('replayed_at', '>=', since)
    .groupBy('state')
    .execute();
  const counts: Record<HostDeliveryState, number> = { pending: 0, delivered: 0, dead: 0 };
  for (const r of rows) counts[r.state] = Number(r.n);
  return counts;
}

/** Read at scrape time: messages not yet delivered, and how long the oldest has waited (the lag). */
export async function hostOutboxHealth(db: Db): Promise<{ pending: number; dead: number; oldestPendingAgeSeconds: number }> {
  const r = await sql<{ pending: number; dead: number; age: number | null }>`
    select count(*) filter (where state = 'pending')::int as pending,
           count(*) filter (where state = 'dead')::int as dead,
           extract(epoch from now() - min(created_at) filter (where state = 'pending'))::float8 as age
    from host_deliveries where state in ('pending', 'dead')`.execute(db);
  const row = r.rows[0];
  return { pending: Number(row?.pending ?? 0), dead: Number(row?.dead ?? 0), oldestPendingAgeSeconds: Math.max(0, Number(row?.age ?? 0)) };
}

export type OutboxPruned = { delivered: number; dead: number; unsent: number };

/**
 * Delete what the outbox no longer needs after `retentionDays`, with its attempts, in batches:
 * messages delivered or dead that long ago, and messages nobody tried to send in that time (no
 * host was configured). A message that waits behind an older one of its user still being tried
 * is kept: it will be sent. Every condition implies `created_at` before the cutoff, which the
 * `created_at` index finds.
 */
export async function pruneHostOutbox(db: Db, opts: { retentionDays: number; batch: number }): Promise<OutboxPruned> {
  const cutoff = sql<Date>`now() - ${`${opts.retentionDays * 86_400} seconds`}::interval`;
  const pruned: OutboxPruned = { delivered: 0, dead: 0, unsent: 0 };
  for (;;) {
    const rows = await db.transaction().execute(async (trx) => {
      const doomed = await sql<{ id: string; state: HostDeliveryState }>`
        select d.id, d.state from host_deliveries d
        where d.created_at < ${cutoff}
          and ((d.state = 'delivered' and d.delivered_at < ${cutoff})
            or (d.state = 'dead' and d.dead_at < ${cutoff})
            or (d.state = 'pending' and d.attempts = 0 and coalesce(d.replayed_at, d.created_at) < ${cutoff}
                and (d.locked_until is null or d.locked_until < now())
                and not exists (
                  select 1 from host_deliveries older
                  where older.user_id = d.user_id and older.state = 'pending' and older.attempts > 0 and older.sequence < d.sequence)))
        order by d.created_at, d.id
        limit ${opts.batch}
        for update skip locked`.execute(trx);
      const ids = doomed.rows.map((r) => r.id);
      if (ids.length === 0) return [];
      await trx.deleteFrom('host_delivery_attempts').where('delivery_id', 'in', ids).execute();
      await trx.deleteFrom('host_deliveries').where('id', 'in', ids).execute();
      return doomed.rows;
    });
    for (const r of rows) {
      if (r.state === 'delivered') pruned.delivered += 1;
      else if (r.state === 'dead') pruned.dead += 1;
      else pruned.unsent += 1;
    }
    if (rows.length < opts.batch) return pruned;
  }
}
