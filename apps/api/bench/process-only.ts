/**
 * Processing alone (needs DATABASE_URL): store a shuffled, duplicated workload in the inbox with
 * no processing, then drain it with the background worker and time the drain. Prints events/s,
 * CPU per event of this process and of every PostgreSQL process during the drain, the event
 * loop's delay (how long a webhook's reply would wait for processing),
 * database statements per event (BEGIN/COMMIT/SAVEPOINT counted apart), the statement shapes
 * that cost most, and checks every order against the journeys' oracle.
 *
 * `tsx bench/process-only.ts` · env: BENCH_EVENTS (default 3000), BENCH_WORKERS (default 4),
 * BENCH_PER_TX (events per transaction, default 25), BENCH_CLAIM (events claimed at once, the
 * API's WORKER_BATCH; default workers × events per transaction), BENCH_SEED, BENCH_SHAPES=1 (the statement
 * shapes sent most), BENCH_LOG=debug (the processor's log, and each statement cut short by a
 * lock timeout), BENCH_TABLES=1 (rows inserted and updated per table, HOT updates, event
 * outcomes), BENCH_DEBUG=1 (a failing order's events and audit), BENCH_ALTER (statements run on
 * the migrated schema before the events are stored, for trying a storage setting),
 * BENCH_PROFILE=file (a CPU profile of the drain), BENCH_THIN_MS=n (every event stored as the thin notification an event destination sends,
 * resolved through a local Stripe fake over HTTP that answers `GET /v1/events/:id` after n ms).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import pino from 'pino';
import { DEFAULT_RETRY_POLICY } from '@settle/payments-core';
import { insertEvents, type NewStripeEvent } from '@settle/db';
import { createTestDatabase } from '@settle/db/testing';
import { PAYMENT_JOURNEYS, deliveryOrder, seededRandom } from '@settle/stripe-simulator';
import { checkOracle, planJourneys, waitForConvergence } from '../test/faults/cluster.js';
import { createMetrics } from '../src/lib/metrics.js';
import { createStripeClient } from '../src/lib/stripe-client.js';
import { loadCatalogue } from '../src/payments/product-catalogue.js';
import { createInboxProcessor } from '../src/workers/inbox-processor.js';
import { startEventWorker } from '../src/workers/event-worker.js';
import { settledOnReceipt } from '../src/payments/stripe-event-resolver.js';

/** CPU time so far of every process named `postgres` on this machine (server on the same host). */
function postgresCpuMs(): number {
  let total = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (!stat.includes('(postgres)')) continue;
      const f = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
      total += (Number(f[11]) + Number(f[12])) * 10;
    } catch {
      // the process ended between the listing and the read
    }
  }
  return total;
}

const EVENTS = Number(process.env.BENCH_EVENTS ?? 3000);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 4);
const PER_TX = Number(process.env.BENCH_PER_TX ?? 25);
const SEED = Number(process.env.BENCH_SEED ?? 8);

if (!process.env.DATABASE_URL) {
  console.error('needs DATABASE_URL (a PostgreSQL server)');
  process.exit(1);
}

const database = await createTestDatabase('postgres');
try {
  const random = seededRandom(SEED);
  const { orders, events } = await planJourneys(database.db, Math.ceil(EVENTS / 8.5), random, PAYMENT_JOURNEYS);
  const deliveries = deliveryOrder(events, { duplicates: 0.1, shuffle: true, random }).slice(0, EVENTS);
  // Thin notifications: Stripe's fake serves each snapshot event after BENCH_THIN_MS.
  const THIN_MS = process.env.BENCH_THIN_MS === undefined ? null : Number(process.env.BENCH_THIN_MS);
  // Events by id, and every other object (a charge a refund names) as its latest event shows it.
  const snapshots = new Map<string, unknown>(events.map((e) => [e.id, e]));
  for (const e of [...events].sort((a, b) => a.created - b.created)) {
    const o = e.data.object as { id?: unknown };
    if (typeof o.id === 'string') snapshots.set(o.id, o);
  }
  const fake = THIN_MS === null ? null : createServer((req, res) => {
    // One-time purchases: no PaymentIntent of theirs paid an invoice.
    const event = req.url?.startsWith('/v1/invoice_payments?') ? { object: 'list', data: [], has_more: false, url: '/v1/invoice_payments' } : snapshots.get(/^\/v1\/[a-z_]+\/([^/?]+)/.exec(req.url ?? '')?.[1] ?? '');
    if (!event && process.env.BENCH_LOG) console.error("fake stripe 404", req.method, req.url);
    setTimeout(() => res.writeHead(event ? 200 : 404, { 'content-type': 'application/json' }).end(JSON.stringify(event ?? { error: { type: 'invalid_request_error', message: 'No such object' } })), THIN_MS);
  });
  if (fake) await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
  const rows: NewStripeEvent[] = deliveries.map((e) => {
    const object = e.data.object as { id?: unknown; object?: unknown };
    const objectId = typeof object.id === 'string' ? object.id : null;
    const row = { id: e.id, type: e.type, object_id: objectId, stripe_created: new Date(e.created * 1000), api_version: e.api_version ?? null, livemode: false, payload: JSON.stringify(e) };
    // Stored as the webhook route stores it: a type Settle never acts on is settled on receipt.
    if (THIN_MS === null) return settledOnReceipt(row, false);
    // As an event destination sends it; a redelivery keeps the notification's id.
    const id = `evt_thin_${e.id}`;
    const related = { id: objectId, type: object.object, url: `/v1/${String(object.object)}s/${objectId}` };
    return settledOnReceipt({ ...row, id, type: `v1.${e.type}`, api_version: null, payload: JSON.stringify({ id, object: 'v2.core.event', type: `v1.${e.type}`, created: new Date(e.created * 1000).toISOString(), livemode: false, snapshot_event: e.id, related_object: related }) }, true);
  });
  for (const stmt of (process.env.BENCH_ALTER ?? '').split(';').filter((x) => x.trim())) await database.pool!.query(stmt);
  for (let i = 0; i < rows.length; i += 500) await insertEvents(database.db, rows.slice(i, i + 500));
  const inSlice = new Set(deliveries.map((d) => d.id));
  // Only the oracle's orders whose events all made it into the slice are checked.
  const kept = orders.filter((o) => o.eventIds!.every((id) => inSlice.has(id)));

  // Count every statement the pool's clients send from here on.
  const counts = new Map<string, number>();
  let statements = 0;
  let control = 0;
  const Client = (database.pool as unknown as { Client: typeof pg.Client }).Client;
  const query = Client.prototype.query as (...args: unknown[]) => unknown;
  (Client.prototype as { query: unknown }).query = function (this: unknown, ...args: unknown[]) {
    const a0 = args[0];
    const text = typeof a0 === 'string' ? a0 : (a0 as { text?: string })?.text ?? '';
    if (/^\s*(begin|commit|rollback|savepoint|release|set local)/i.test(text)) control += 1;
    else {
      statements += 1;
      const shape = text.replace(/\s+/g, ' ').slice(0, 90);
      counts.set(shape, (counts.get(shape) ?? 0) + 1);
    }
    const result = query.apply(this, args);
    if (process.env.BENCH_LOG && result instanceof Promise) {
      result.catch((err: { code?: string }) => err?.code === '55P03' && console.error('lock timeout in:', text.replace(/\s+/g, ' ').slice(0, 160)));
    }
    return result;
  };

  const logger = pino({ level: process.env.BENCH_LOG ?? 'silent' });
  const processor = createInboxProcessor({
    db: database.db,
    catalogue: loadCatalogue(undefined),
    stripe: fake ? createStripeClient('sk_test_bench', `http://127.0.0.1:${(fake.address() as AddressInfo).port}`) : null,
    retry: { baseDelayMs: 1_000, maxDelayMs: 3_600_000, maxAttempts: DEFAULT_RETRY_POLICY.maxAttempts },
    unmatchedMaxAttempts: 8,
    logger,
    metrics: createMetrics(),
  });
  // BENCH_PROFILE=file: a CPU profile of this process during the drain only (open in Chrome DevTools).
  const profiler = process.env.BENCH_PROFILE ? new Session() : null;
  if (profiler) {
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.start');
  }
  // How long processing keeps the event loop from other work (a webhook's reply waits that long).
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  const pgCpu0 = postgresCpuMs();
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  const worker = startEventWorker({
    db: database.db,
    processor,
    logger,
    workerId: 'process-only',
    concurrency: WORKERS,
    pollMs: 20,
    batch: Number(process.env.BENCH_CLAIM ?? WORKERS * PER_TX),
    leaseMs: 60_000,
    eventsPerTransaction: PER_TX,
  });
  await waitForConvergence(database.db, 600_000);
  const ms = performance.now() - started;
  const cpu = process.cpuUsage(cpu0);
  loopDelay.disable();
  const pgCpuMs = postgresCpuMs() - pgCpu0;
  if (profiler) writeFileSync(process.env.BENCH_PROFILE!, JSON.stringify((await profiler.post('Profiler.stop')).profile));
  await worker.stop(5_000);
  (Client.prototype as { query: unknown }).query = query;

  const problems = await checkOracle(database.db, kept, new Set());
  const oracleProblems = problems.filter((p) => !p.startsWith('event ') && !p.includes('events stored'));
  const unsettled = problems.filter((p) => p.startsWith('event ') && p.includes(' ended '));
  console.log(JSON.stringify({
    events: rows.length,
    workers: WORKERS,
    perTransaction: PER_TX,
    ms: Math.round(ms),
    eventsPerSecond: Math.round((rows.length / ms) * 1000),
    statementsPerEvent: +(statements / rows.length).toFixed(2),
    controlPerEvent: +(control / rows.length).toFixed(2),
    // CPU per event during the drain: this process (the processor) and every PostgreSQL process.
    nodeCpuMsPerEvent: +((cpu.user + cpu.system) / 1000 / rows.length).toFixed(3),
    postgresCpuMsPerEvent: +(pgCpuMs / rows.length).toFixed(3),
    loopDelayMs: { p50: +(loopDelay.percentile(50) / 1e6).toFixed(1), p99: +(loopDelay.percentile(99) / 1e6).toFixed(1), max: +(loopDelay.max / 1e6).toFixed(1) },
    oracleOrders: kept.length,
    oracleProblems: oracleProblems.length,
    unsettled: unsettled.length,
  }));
  if (process.env.BENCH_SHAPES) {
    for (const [shape, n] of [...counts].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(String(n).padStart(6), shape);
  }
  if (process.env.BENCH_TABLES) {
    const { rows } = await database.pool!.query(`select relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, pg_size_pretty(pg_total_relation_size(relid)) as size from pg_stat_user_tables where n_tup_ins + n_tup_upd > 0 order by n_tup_upd desc`);
    for (const r of rows) console.log(JSON.stringify(r));
    const outcomes = await database.pool!.query(`select state, outcome, attempts, count(*)::int as n from stripe_events group by 1, 2, 3 order by n desc`);
    for (const r of outcomes.rows) console.log(JSON.stringify(r));
    const dead = await database.pool!.query(`select id, type, last_error from stripe_events where state = 'dead' limit 5`);
    for (const r of dead.rows) console.log(JSON.stringify(r));
  }
  if (oracleProblems.length) console.log(oracleProblems.slice(0, 10).join('\n'));
  if (process.env.BENCH_DEBUG) {
    for (const id of new Set(oracleProblems.map((p) => p.split(' ')[0]!))) {
      const ev = await database.pool!.query(`select id, type, stripe_created, received_at, state, outcome, attempts, processed_at, last_error from stripe_events where order_id = $1 or payload::text like '%' || $1 || '%' order by processed_at`, [id]);
      for (const r of ev.rows) console.log('  ev', JSON.stringify(r));
      const tr = await database.pool!.query(`select * from order_transitions where order_id = $1 order by id`, [id]);
      for (const r of tr.rows) console.log('  tr', JSON.stringify(r));
    }
  }
  if (oracleProblems.length || unsettled.length) process.exitCode = 1;
  fake?.close();
} finally {
  await database.dispose();
}
