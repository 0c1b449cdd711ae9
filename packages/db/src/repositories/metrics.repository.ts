import { sql } from 'kysely';
import type { Db } from '../database.js';

export type InboxHealth = { byState: Record<string, number>; oldestDueAgeSeconds: number; due: number };

export async function inboxHealth(db: Db): Promise<InboxHealth> {
  const states = await sql<{ state: string; n: number }>`select state, count(*)::int as n from stripe_events group by state`.execute(db);
  const due = await sql<{ n: number; age: number | null }>`
    select count(*)::int as n, extract(epoch from now() - min(next_attempt_at))::float8 as age
    from stripe_events where state in ('pending', 'failed') and next_attempt_at <= now()`.execute(db);
  return {
    byState: Object.fromEntries(states.rows.map((r) => [r.state, Number(r.n)])),
    due: Number(due.rows[0]?.n ?? 0),
    oldestDueAgeSeconds: Math.max(0, Number(due.rows[0]?.age ?? 0)),
  };
}

export type MetricsBucket = {
  bucketStart: Date;
  received: number;
  processed: number;
  failedAttempts: number;
  dead: number;
  p50LatencyMs: number | null;
  p95LatencyMs: number | null;
};

/** Event throughput, failures and processing latency per time bucket over a window. */
export async function eventSeries(db: Db, opts: { windowHours: number; bucketMinutes: number }): Promise<MetricsBucket[]> {
  const r = await sql<{
    bucket: Date;
    received: number;
    processed: number;
    failed_attempts: number;
    dead: number;
    p50: number | null;
    p95: number | null;
  }>`
    select date_bin(${`${opts.bucketMinutes} minutes`}::interval, received_at, timestamptz '2000-01-01') as bucket,
           count(*)::int as received,
           count(*) filter (where state = 'processed')::int as processed,
           coalesce(sum(jsonb_array_length(errors)), 0)::int as failed_attempts,
           count(*) filter (where state = 'dead')::int as dead,
           (percentile_cont(0.5) within group (order by extract(epoch from processed_at - received_at)) filter (where processed_at is not null and replayed_at is null) * 1000)::float8 as p50,
           (percentile_cont(0.95) within group (order by extract(epoch from processed_at - received_at)) filter (where processed_at is not null and replayed_at is null) * 1000)::float8 as p95
    from stripe_events
    where received_at >= now() - ${`${opts.windowHours} hours`}::interval
    group by 1 order by 1`.execute(db);
  return r.rows.map((x) => ({
    bucketStart: new Date(x.bucket),
    received: Number(x.received),
    processed: Number(x.processed),
    failedAttempts: Number(x.failed_attempts),
    dead: Number(x.dead),
    p50LatencyMs: x.p50 === null ? null : Number(x.p50),
    p95LatencyMs: x.p95 === null ? null : Number(x.p95),
  }));
}

/**
 * Processing latency (received → processed). Replayed events are left out: their time in the
 * inbox is how long a dead letter waited for an operator, not how fast Settle processes.
 */
export async function latencyPercentiles(db: Db, windowHours: number): Promise<{ p50: number | null; p95: number | null; p99: number | null; count: number }> {
  const r = await sql<{ p50: number | null; p95: number | null; p99: number | null; n: number }>`
    select (percentile_cont(0.5) within group (order by ms))::float8 as p50,
           (percentile_cont(0.95) within group (order by ms))::float8 as p95,
           (percentile_cont(0.99) within group (order by ms))::float8 as p99,
           count(*)::int as n
    from (select extract(epoch from processed_at - received_at) * 1000 as ms from stripe_events
          where processed_at is not null and replayed_at is null and received_at >= now() - ${`${windowHours} hours`}::interval) t`.execute(db);
  const row = r.rows[0];
  return { p50: row?.p50 ?? null, p95: row?.p95 ?? null, p99: row?.p99 ?? null, count: Number(row?.n ?? 0) };
}

/** Orders stuck in a status an operator can act on (`STUCK_STATUSES`) for longer than the age. */
export async function countStuckOrders(db: Db, olderThanMinutes: number): Promise<number> {
  const r = await sql<{ n: number }>`
    select count(*)::int as n from orders
    where status in ('processing', 'requires_action', 'needs_review')
      and updated_at < now() - ${`${olderThanMinutes} minutes`}::interval`.execute(db);
  return Number(r.rows[0]?.n ?? 0);
}
