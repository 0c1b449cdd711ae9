/**
 * `pnpm bench` (needs DATABASE_URL): Settle's webhook ingest and end-to-end processing against
 * two baselines on the same load, then the console's order queries at a million orders.
 * Writes bench-results/latest.json and docs/PERFORMANCE.md.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createAdminToken, createDatabase, migrateToLatest, sql, type Db } from '@settle/db';
import { createTestDatabase, type TestDatabase } from '@settle/db/testing';
import { PAYMENT_JOURNEYS, deliveryOrder, seededRandom } from '@settle/stripe-simulator';
import { createTRPCClient, httpLink } from '@trpc/client';
import type { AppRouter } from '../src/trpc/root.js';
import { WEBHOOK_SECRET } from '../test/harness.js';
import { freePort, planJourneys, spawnApi, waitForConvergence } from '../test/faults/cluster.js';
import { percentile, runLoad, runLoadAtRate, type LoadResult } from './load.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? '1,8,32').split(',').map(Number);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 6000);
const SCALE_ORDERS = Number(process.env.BENCH_ORDERS ?? 1_000_000);
const SCALE_EVENTS = Number(process.env.BENCH_EVENTS_AT_SCALE ?? 5_000_000);
/** Events sent at the half-of-peak rate before the measured stream (a warm-up; reported as the cold start). */
const HALF_PEAK_WARMUP = Number(process.env.BENCH_WARMUP_EVENTS ?? 3000);

const REPORT_ONLY = process.argv.includes('--report');
const SCALE_ONLY = process.argv.includes('--scale-only');
if (!process.env.DATABASE_URL && !REPORT_ONLY) {
  console.error('pnpm bench needs DATABASE_URL (a PostgreSQL server), e.g. postgres://postgres@127.0.0.1:5432/postgres');
  process.exit(1);
}

/** The processing processes an API forked (`WORKER_PROCESSES`). */
function processingPids(pid: number | undefined): number[] {
  if (!pid) return [];
  try {
    return execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => line.includes('main.js'))
      .map((line) => Number(line.trim().split(' ')[0]))
      .filter((n) => n > 0);
  } catch {
    return [];
  }
}

function peakRssMb(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : 0;
  } catch {
    return 0;
  }
}

/** CPU time (user + system, ms) a process has used, from /proc; 0 once it is gone. */
function processCpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // utime and stime, in clock ticks (100 a second on Linux).
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

/** Every PostgreSQL process on this machine (the server under test is local), by pid. */
function postgresPids(): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/comm`, 'utf8').trim() === 'postgres') pids.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** CPU milliseconds per event a run cost: the server's processes, and PostgreSQL's (the load generator's own is left out). */
type CpuPerEvent = { server: number; postgres: number };

/**
 * Count the CPU a server and PostgreSQL spend from now until `stop`. PostgreSQL processes that
 * start meanwhile (new connections) count from zero; one that exits meanwhile is not counted.
 */
function cpuMeter(serverPids: () => number[]) {
  const start = new Map<number, number>();
  for (const pid of [...serverPids(), ...postgresPids()]) start.set(pid, processCpuMs(pid));
  const used = (pids: number[]) => pids.reduce((sum, pid) => sum + Math.max(0, processCpuMs(pid) - (start.get(pid) ?? 0)), 0);
  return {
    stop(events: number): CpuPerEvent {
      const round = (ms: number) => Math.round((ms / events) * 100) / 100;
      return { server: round(used(serverPids())), postgres: round(used(postgresPids())) };
    },
  };
}

type Baseline = 'thin' | 'sync' | 'peer';

async function startBaseline(mode: Baseline, databaseUrl: string): Promise<{ url: string; proc: ChildProcess }> {
  const port = await freePort();
  const script = mode === 'peer' ? ['./sync-engine-server.ts', String(port)] : ['./baseline-servers.ts', mode, String(port)];
  const proc = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL(script[0]!, import.meta.url)), ...script.slice(1)], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', DATABASE_URL: databaseUrl, STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    proc.stdout!.on('data', (c: Buffer) => c.toString().includes('ready') && resolve());
    proc.once('exit', (code) => reject(new Error(`baseline ${mode} exited with ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}`, proc };
}

async function stop(proc: ChildProcess) {
  if (proc.exitCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
  if (proc.exitCode === null) proc.kill('SIGKILL');
}

async function workload(db: Db, seed: number) {
  const random = seededRandom(seed);
  // ~8 events a journey; 10% duplicates; shuffled, as Stripe delivers.
  const { events } = await planJourneys(db, Math.ceil(EVENTS / 8.5), random, PAYMENT_JOURNEYS);
  return deliveryOrder(events, { duplicates: 0.1, shuffle: true, random }).slice(0, EVENTS).map((e) => JSON.stringify(e));
}

/** Stripe delivery sent → grant committed, over every grant the run made. */
type TimeToGrant = { grants: number; p50: number; p99: number; max: number };

/** The open-loop run at half of peak: the measured stream, after the warm-up stream measured as `coldStart`. */
type HalfPeakRun = LoadResult & { coldStart?: LoadResult };

type SettleRun = LoadResult & { endToEndMs: number; endToEndThroughput: number; peakRssMb: number; timeToGrantMs?: TimeToGrant; cpuMsPerEvent?: CpuPerEvent };
/** A baseline's run: its ingest is its end-to-end. */
type BaselineRun = LoadResult & { cpuMsPerEvent?: CpuPerEvent };

/** How Settle runs in a measurement: processing in the API process, or in one it forks. */
const SETTLE_MODES = {
  inline: { LOG_LEVEL: 'warn', RECONCILE_INTERVAL_MS: '0', ...(process.env.BENCH_WORKERS ? { WORKER_CONCURRENCY: process.env.BENCH_WORKERS } : {}) },
  processes: { LOG_LEVEL: 'warn', RECONCILE_INTERVAL_MS: '0', WORKER_PROCESSES: '1', ...(process.env.BENCH_WORKERS ? { WORKER_CONCURRENCY: process.env.BENCH_WORKERS } : {}) },
};

/** Start the API and wait until its processing processes run (they start after it listens). */
async function startSettle(databaseUrl: string, mode: keyof typeof SETTLE_MODES) {
  const api = await spawnApi(databaseUrl, SETTLE_MODES[mode]);
  if (mode === 'processes') {
    for (let i = 0; processingPids(api.proc.pid).length === 0; i++) {
      if (i > 600) throw new Error('the processing process did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
    // It is running; give it the moment it needs to connect and start claiming.
    await new Promise((r) => setTimeout(r, 2_000));
  }
  return api;
}

type Row = {
  concurrency: number;
  settle: SettleRun;
  /** Settle with WORKER_PROCESSES=1; absent in results from before it was measured. */
  settleProcesses?: SettleRun;
  thin: BaselineRun;
  sync: BaselineRun;
  /** `@supabase/stripe-sync-engine`: absent in results from before it was measured. */
  peer?: BaselineRun;
};

/**
 * Time to grant: from the first send of the event that granted (the load generator records each
 * event's send time; an event's own `created` has only second resolution and is set when the
 * workload is planned) to the grant's `granted_at`. `granted_at` is `now()` of the granting
 * transaction, i.e. its start; its commit follows within the same batch.
 */
async function timeToGrant(db: Db, sentAt: Map<string, number> | undefined): Promise<TimeToGrant> {
  const { rows } = await sql<{ event_id: string; at: string }>`
    select event_id, (extract(epoch from granted_at) * 1000)::float8 as at from grants where event_id is not null`.execute(db);
  const ms: number[] = [];
  for (const r of rows) {
    const sent = sentAt?.get(r.event_id);
    if (sent !== undefined) ms.push(Number(r.at) - sent);
  }
  ms.sort((a, b) => a - b);
  const round = (n: number) => Math.round(n * 10) / 10;
  return { grants: ms.length, p50: round(percentile(ms, 50)), p99: round(percentile(ms, 99)), max: round(ms.at(-1) ?? 0) };
}

async function ingestRound(concurrency: number): Promise<Row> {
  const run = async <T>(fn: (db: TestDatabase) => Promise<T>) => {
    const database = await createTestDatabase('postgres');
    try {
      return await fn(database);
    } finally {
      await database.dispose();
    }
  };

  const settleRun = (mode: keyof typeof SETTLE_MODES) => run(async (database): Promise<SettleRun> => {
    const bodies = await workload(database.db, concurrency);
    const api = await startSettle(database.url!, mode);
    try {
      const serverPids = () => [api.proc.pid!, ...processingPids(api.proc.pid)];
      const cpu = cpuMeter(serverPids);
      const started = performance.now();
      const load = await runLoad(`${api.url}/webhooks/stripe`, bodies, WEBHOOK_SECRET, concurrency);
      await waitForConvergence(database.db, 600_000);
      const endToEndMs = Math.round(performance.now() - started);
      const cpuMsPerEvent = cpu.stop(bodies.length);
      const { sentAt, ...rest } = load;
      return {
        ...rest,
        endToEndMs,
        endToEndThroughput: Math.round((bodies.length / endToEndMs) * 1000),
        // The API and the processes it forked: what the deployment holds.
        peakRssMb: [api.proc.pid, ...processingPids(api.proc.pid)].reduce<number>((sum, pid) => sum + peakRssMb(pid), 0),
        timeToGrantMs: await timeToGrant(database.db, sentAt),
        cpuMsPerEvent,
      };
    } finally {
      await stop(api.proc);
    }
  });

  const baseline = (mode: Baseline) =>
    run(async (database): Promise<BaselineRun> => {
      const bodies = await workload(database.db, concurrency);
      const server = await startBaseline(mode, database.url!);
      try {
        const cpu = cpuMeter(() => [server.proc.pid!]);
        const { sentAt: _, ...load } = await runLoad(`${server.url}/webhooks/stripe`, bodies, WEBHOOK_SECRET, concurrency);
        return { ...load, cpuMsPerEvent: cpu.stop(bodies.length) };
      } finally {
        await stop(server.proc);
      }
    });

  const settle = await settleRun('inline');
  const settleProcesses = await settleRun('processes');
  const thin = await baseline('thin');
  const sync = await baseline('sync');
  const peer = await baseline('peer');
  return { concurrency, settle, settleProcesses, thin, sync, peer };
}

/**
 * `BENCH_SCALE_DB`: a database of its own for the console at scale, kept after the run. It is
 * seeded once (it must be empty then) and reused while it holds the seeded counts, so
 * `pnpm bench --scale-only` costs the queries, not the ~4.5 minutes of seeding. Without it, a
 * fresh database is seeded and dropped each run.
 */
async function scaleDatabase(): Promise<{ db: Db; url: string; seeded: boolean; dispose: () => Promise<void> }> {
  const url = process.env.BENCH_SCALE_DB;
  if (!url) {
    const database = await createTestDatabase('postgres', { poolMax: 4 });
    return { db: database.db, url: database.url!, seeded: false, dispose: () => database.dispose() };
  }
  const handle = await createDatabase({ databaseUrl: url, poolMax: 4, queryTimeoutMs: 0 });
  await migrateToLatest(handle.db);
  const count = async (table: 'orders' | 'stripe_events') => (await sql<{ n: number }>`select count(*)::int as n from ${sql.table(table)}`.execute(handle.db)).rows[0]!.n;
  const [orders, events] = [await count('orders'), await count('stripe_events')];
  const seeded = orders === SCALE_ORDERS && events === SCALE_EVENTS;
  if (!seeded && orders + events > 0) {
    await handle.db.destroy();
    throw new Error(`BENCH_SCALE_DB holds ${orders} orders and ${events} events, not the ${SCALE_ORDERS} and ${SCALE_EVENTS} this run seeds: give an empty database or the one seeded with these counts`);
  }
  if (seeded) console.log(`  reusing BENCH_SCALE_DB, seeded with ${orders.toLocaleString()} orders and ${events.toLocaleString()} events`);
  return { db: handle.db, url, seeded, dispose: () => handle.db.destroy() };
}

/**
 * The console's scale: orders and events by `generate_series`, in chunks so progress shows and no
 * statement runs into the pool's 30 s statement timeout on a busy machine (250,000 rows a statement
 * did; 50,000 did with three trigram indexes to fill).
 */
async function seedAtScale(db: Db): Promise<void> {
  const chunk = 20_000;
  for (let from = 1; from <= SCALE_ORDERS; from += chunk) {
    const to = Math.min(SCALE_ORDERS, from + chunk - 1);
    await sql`
      insert into orders (id, user_id, product_id, quantity, amount, currency, status, handler, checkout_session_id,
                          payment_intent_id, stripe_customer_id, customer_email, status_stripe_at, paid_at, created_at, updated_at)
      select md5('o' || g)::uuid, 'user_' || (g % 50000), 'credits10', 1, 995, 'usd',
             (array['succeeded','succeeded','succeeded','succeeded','succeeded','succeeded','pending','processing','failed','canceled','refunded','needs_review'])[1 + g % 12],
             case when g % 10 = 0 then 'legacy' else 'new' end,
             'cs_' || md5('cs' || g), 'pi_' || substr(md5('pi' || g), 1, 24), 'cus_' || substr(md5('cus' || (g % 50000)), 1, 14),
             'buyer' || (g % 50000) || '@example.com',
             now() - (g || ' seconds')::interval, now() - (g || ' seconds')::interval,
             now() - (g || ' seconds')::interval, now() - ((g / 2) || ' seconds')::interval
      from generate_series(${from}::int, ${to}::int) g`.execute(db);
    process.stdout.write(`\r  orders: ${to.toLocaleString()}   `);
  }
  const perOrder = Math.max(1, Math.round(SCALE_EVENTS / SCALE_ORDERS));
  for (let from = 1; from <= SCALE_EVENTS; from += chunk * 2) {
    const to = Math.min(SCALE_EVENTS, from + chunk * 2 - 1);
    await sql`
      insert into stripe_events (id, type, object_id, order_id, stripe_created, api_version, payload, received_at, state, outcome, attempts, processed_at)
      select 'evt_bench_' || g, (array['payment_intent.created','charge.succeeded','payment_intent.succeeded','checkout.session.completed','invoice.paid'])[1 + g % 5],
             'pi_' || substr(md5('pi' || (1 + g / ${perOrder})), 1, 24), md5('o' || (1 + (g - 1) / ${perOrder}))::uuid,
             now() - (g || ' seconds')::interval, '2026-10-28', '{}'::jsonb, now() - (g || ' seconds')::interval,
             case when g % 1000 = 0 then 'dead' else 'processed' end, 'applied', 1, now() - (g || ' seconds')::interval
      from generate_series(${from}::int, ${to}::int) g`.execute(db);
    process.stdout.write(`\r  events: ${to.toLocaleString()}   `);
  }
  await sql`analyze`.execute(db);
}

async function consoleAtScale() {
  const database = await scaleDatabase();
  try {
    const db = database.db;
    const t0 = performance.now();
    if (!database.seeded) await seedAtScale(db);
    const seedSeconds = database.seeded ? null : Math.round((performance.now() - t0) / 1000);
    if (!database.seeded) console.log(`\n  seeded ${SCALE_ORDERS.toLocaleString()} orders and ${SCALE_EVENTS.toLocaleString()} events in ${seedSeconds} s`);

    // One address sends every timed call: the per-address limit would answer 429 mid-measurement.
    const api = await spawnApi(database.url, { LOG_LEVEL: 'warn', RECONCILE_INTERVAL_MS: '0', WORKER_CONCURRENCY: '0', RATE_LIMIT_IP_PER_MIN: '1000000' });
    try {
      const { token } = await createAdminToken(db, { name: `bench-${Date.now()}`, role: 'viewer', createdBy: 'bench' });
      const client = createTRPCClient<AppRouter>({ links: [httpLink({ url: `${api.url}/trpc`, headers: { authorization: `Bearer ${token}` } })] });
      const time = async (name: string, fn: (i: number) => Promise<unknown>, n = 60) => {
        for (let i = 0; i < 5; i++) await fn(i);
        const ms: number[] = [];
        for (let i = 0; i < n; i++) {
          const s = performance.now();
          await fn(i);
          ms.push(performance.now() - s);
        }
        ms.sort((a, b) => a - b);
        const r = { name, p50: Math.round(percentile(ms, 50) * 10) / 10, p95: Math.round(percentile(ms, 95) * 10) / 10 };
        console.log(`  ${name}: p50 ${r.p50} ms, p95 ${r.p95} ms`);
        return r;
      };
      const id = (g: number) => (sql`select md5(${`o${g}`})::uuid as id`.execute(db) as Promise<{ rows: { id: string }[] }>).then((r) => r.rows[0]!.id);
      const ids = await Promise.all(Array.from({ length: 65 }, (_, i) => id(1 + ((i * 15_013) % SCALE_ORDERS))));
      const page2 = await client.admin.orders.list.query({ limit: 50 });
      return {
        orders: SCALE_ORDERS,
        events: SCALE_EVENTS,
        seedSeconds,
        queries: [
          await time('orders.list (newest 50)', () => client.admin.orders.list.query({ limit: 50 })),
          await time('orders.list (page 2 by cursor)', () => client.admin.orders.list.query({ limit: 50, cursor: page2.nextCursor })),
          await time('orders.list status=processing', () => client.admin.orders.list.query({ status: 'processing', limit: 50 })),
          await time('orders.list status=needs_review', () => client.admin.orders.list.query({ status: 'needs_review', limit: 50 })),
          await time('orders.list stuck > 30 min', () => client.admin.orders.list.query({ stuckForMinutes: 30, limit: 50 })),
          await time('orders.list search by payment intent', (i) => client.admin.orders.list.query({ search: `pi_${md5(`pi${1 + i * 7919}`).slice(0, 24)}` })),
          await time('orders.list search by payment intent prefix (8 chars)', (i) => client.admin.orders.list.query({ search: `pi_${md5(`pi${1 + i * 7919}`).slice(0, 8)}` })),
          await time('orders.list search by customer', (i) => client.admin.orders.list.query({ search: `cus_${md5(`cus${i * 13}`).slice(0, 14)}`, limit: 50 })),
          await time('orders.list search by e-mail', (i) => client.admin.orders.list.query({ search: `buyer${i * 769}@example.com`, limit: 50 })),
          // A user's 20 orders, and those of user ids that start with it (user_4321 is in user_43210…43219).
          await time('orders.list search by user id', (i) => client.admin.orders.list.query({ search: `user_${4321 + i * 97}`, limit: 50 })),
          // Fragments thousands of orders share: "user_13" … "user_49" are in 1,111 users' 22,220
          // orders (2.2%), "user_50" … "user_77" in 111 users' 2,220 (0.22%).
          await time('orders.list search, broad fragment (~2% of orders)', (i) => client.admin.orders.list.query({ search: `user_${13 + i}`, limit: 50 })),
          await time('orders.get (order, events, audit, grants)', (i) => client.admin.orders.get.query({ orderId: ids[i % ids.length]! })),
        ],
      };
    } finally {
      await stop(api.proc);
    }
  } finally {
    await database.dispose();
  }
}

function md5(text: string): string {
  return createHash('md5').update(text).digest('hex');
}

function machine() {
  const cpu = cpus()[0]?.model ?? 'unknown';
  return `${cpus().length} × ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Node ${process.version}`;
}

const ratio = (a: number, b: number) => (b === 0 ? 0 : Math.round((a / b) * 100) / 100);

async function main() {
  const benchStarted = performance.now();
  // Measure what production runs: the built bundle.
  await new Promise<void>((resolve, reject) => {
    const b = spawn(process.execPath, [fileURLToPath(new URL('../build.mjs', import.meta.url))], { cwd: fileURLToPath(new URL('..', import.meta.url)), stdio: 'inherit' });
    b.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`build failed (${code})`))));
  });
  process.env.SETTLE_API_DIST = '1';
  const pgVersion = await (async () => {
    const d = await createTestDatabase('postgres');
    try {
      return (await sql<{ v: string }>`select current_setting('server_version') as v`.execute(d.db)).rows[0]?.v ?? '?';
    } finally {
      await d.dispose();
    }
  })();
  console.log(`Settle benchmark on ${machine()}, PostgreSQL ${pgVersion}`);
  // `--scale-only`: keep the last run's ingest figures and measure the console queries again.
  const previous = SCALE_ONLY ? JSON.parse(readFileSync(`${ROOT}/bench-results/latest.json`, 'utf8')) : null;
  const rows: Row[] = previous?.rows ?? [];
  for (const c of previous ? [] : CONCURRENCY) {
    console.log(`ingest at concurrency ${c} (${EVENTS} events)…`);
    const row = await ingestRound(c);
    rows.push(row);
      if (row.settleProcesses) console.log(`  settle with WORKER_PROCESSES=1: ${row.settleProcesses.throughput}/s (p99 ${row.settleProcesses.latencyMs.p99} ms), end-to-end ${row.settleProcesses.endToEndThroughput}/s, peak RSS ${row.settleProcesses.peakRssMb} MB`);
    console.log(
      `  settle ${row.settle.throughput}/s (p50 ${row.settle.latencyMs.p50} ms, p99 ${row.settle.latencyMs.p99} ms), end-to-end ${row.settle.endToEndThroughput}/s, peak RSS ${row.settle.peakRssMb} MB; ` +
        `thin ${row.thin.throughput}/s (p99 ${row.thin.latencyMs.p99} ms); sync ${row.sync.throughput}/s (p99 ${row.sync.latencyMs.p99} ms); ` +
        `stripe-sync-engine ${row.peer?.throughput}/s (p99 ${row.peer?.latencyMs.p99} ms); ` +
        `time to grant p50 ${row.settle.timeToGrantMs?.p50} ms, p99 ${row.settle.timeToGrantMs?.p99} ms`,
    );
  }
  // Acknowledgement latency at half of the peak ingest rate, open loop (Stripe does not wait).
  const peak = Math.max(...rows.map((r) => r.settle.throughput));
  const halfPeakRate = Math.max(1, Math.round(peak / 2));
  console.log(`ack latency at half of peak (${halfPeakRate}/s, open loop)…`);
  // Each server first takes a warm-up stream at the same rate (its own events, a fresh process:
  // JIT, pools, keep-alive connections); its latency is kept as the cold-start figure. The measured
  // stream follows without a pause, so processing still has the warm-up's backlog to work through.
  const openLoop = async (url: string, warm: string[], bodies: string[]): Promise<HalfPeakRun> => {
    const { sentAt: _w, ...coldStart } = await runLoadAtRate(url, warm, WEBHOOK_SECRET, halfPeakRate);
    const { sentAt: _m, ...measured } = await runLoadAtRate(url, bodies, WEBHOOK_SECRET, halfPeakRate);
    return { ...measured, coldStart };
  };
  const atHalfPeak = async (server: keyof typeof SETTLE_MODES | 'thin') => {
    const database = await createTestDatabase('postgres');
    try {
      const warm = (await workload(database.db, 98)).slice(0, HALF_PEAK_WARMUP);
      const bodies = await workload(database.db, 99);
      const running = server === 'thin' ? await startBaseline('thin', database.url!) : await startSettle(database.url!, server);
      try {
        return await openLoop(`${running.url}/webhooks/stripe`, warm, bodies);
      } finally {
        await stop(running.proc);
      }
    } finally {
      await database.dispose();
    }
  };
  const halfPeak = previous ? previous.halfPeak : await atHalfPeak('inline');
  console.log(`  in the API process: p50 ${halfPeak.latencyMs.p50} ms, p99 ${halfPeak.latencyMs.p99} ms at ${halfPeak.throughput}/s (cold start p99 ${halfPeak.coldStart?.latencyMs.p99} ms)`);
  const halfPeakProcesses = previous ? previous.halfPeakProcesses : await atHalfPeak('processes');
  if (halfPeakProcesses) console.log(`  WORKER_PROCESSES=1: p50 ${halfPeakProcesses.latencyMs.p50} ms, p99 ${halfPeakProcesses.latencyMs.p99} ms at ${halfPeakProcesses.throughput}/s`);
  const halfPeakThin = previous ? previous.halfPeakThin : await atHalfPeak('thin');
  if (halfPeakThin) console.log(`  thin: p50 ${halfPeakThin.latencyMs.p50} ms, p99 ${halfPeakThin.latencyMs.p99} ms at ${halfPeakThin.throughput}/s`);
  mkdirSync(`${ROOT}/bench-results`, { recursive: true });
  // Written now too, so a failure at scale does not lose the ingest figures.
  const sofar = { at: new Date().toISOString(), machine: machine(), postgres: pgVersion, events: EVENTS, rows, halfPeak: { rate: halfPeakRate, ...halfPeak }, halfPeakProcesses: halfPeakProcesses ? { rate: halfPeakRate, ...halfPeakProcesses } : null, halfPeakThin: halfPeakThin ? { rate: halfPeakRate, ...halfPeakThin } : null, scale: null };
  writeFileSync(`${ROOT}/bench-results/latest.json`, `${JSON.stringify(sofar, null, 2)}\n`);
  const scale = process.env.BENCH_SKIP_SCALE ? null : (console.log('console queries at scale…'), await consoleAtScale());
  const durationMin = previous ? previous.durationMin : Math.round((performance.now() - benchStarted) / 6000) / 10;
  const result = { at: new Date().toISOString(), machine: machine(), postgres: pgVersion, events: EVENTS, durationMin, rows, halfPeak: { rate: halfPeakRate, ...halfPeak }, halfPeakProcesses: halfPeakProcesses ? { rate: halfPeakRate, ...halfPeakProcesses } : null, halfPeakThin: halfPeakThin ? { rate: halfPeakRate, ...halfPeakThin } : null, scale };
  mkdirSync(`${ROOT}/bench-results`, { recursive: true });
  writeFileSync(`${ROOT}/bench-results/latest.json`, `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(`${ROOT}/docs/PERFORMANCE.md`, report(result));
  console.log('wrote bench-results/latest.json and docs/PERFORMANCE.md');
}

function report(r: { at: string; machine: string; postgres: string; events: number; durationMin?: number; rows: Row[]; halfPeak: HalfPeakRun & { rate: number }; halfPeakProcesses?: (HalfPeakRun & { rate: number }) | null; halfPeakThin?: (HalfPeakRun & { rate: number }) | null; scale: Awaited<ReturnType<typeof consoleAtScale>> | null }) {
  const lines = [
    '# Performance',
    '',
    `Measured by \`pnpm bench\` on ${r.at.slice(0, 10)}: ${r.machine}, PostgreSQL ${r.postgres} on the same machine (load generator, server and database share the cores).`,
    `Raw numbers: \`bench-results/latest.json\`. Each run uses a fresh database and ${r.events} signed events from realistic journeys (10% duplicates, shuffled).` +
      (r.durationMin ? ` The whole \`pnpm bench\` took ${r.durationMin} min.` : ''),
    '',
    '## Webhook ingest and processing',
    '',
    '- **ingest**: requests acknowledged per second (verify signature + durable insert + 2xx), with the acknowledgement latency.',
    '- **end-to-end**: events per second from the first request until every event is processed (orders, audit, grants written).',
    '- **thin**: a bare `node:http` server that verifies with the SDK and does one prepared `INSERT … ON CONFLICT DO NOTHING` per event — the floor for a correct ingest.',
    '- **sync**: the synchronous design of most Stripe sync tools: one upsert of the object inside the request (its ingest is its end-to-end).',
    '- **stripe-sync-engine**: the real peer, `@supabase/stripe-sync-engine` 0.48.5 (the latest; it runs on Node 20) behind a minimal Fastify route: its `processWebhook` (SDK signature check, then its upserts into its own migrated schema `stripe`), 2xx after commit. The Stripe API calls it makes (a Checkout Session\'s line items, once per `checkout.session.*` event) are answered by a local fake over HTTP on 127.0.0.1 instead of Stripe\'s 100–300 ms, which favours it. Its ingest is its end-to-end.',
    '- **time to grant**: from the first send of the event that granted credits or a plan to the grant\'s `granted_at` (the granting transaction\'s `now()`), over every grant of the run.',
    '',
    '| concurrency | Settle ingest/s | ack p50 / p99 ms | Settle end-to-end/s | time to grant p50 / p99 ms | peak RSS MB | thin ingest/s | thin p50 / p99 ms | sync/s | sync p99 ms | stripe-sync-engine/s | its p50 / p99 ms | ingest ÷ thin | end-to-end ÷ sync | end-to-end ÷ stripe-sync-engine |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...r.rows.map(
      (x) =>
        `| ${x.concurrency} | ${x.settle.throughput} | ${x.settle.latencyMs.p50} / ${x.settle.latencyMs.p99} | ${x.settle.endToEndThroughput} | ${x.settle.timeToGrantMs ? `${x.settle.timeToGrantMs.p50} / ${x.settle.timeToGrantMs.p99}` : '-'} | ${x.settle.peakRssMb} | ${x.thin.throughput} | ${x.thin.latencyMs.p50} / ${x.thin.latencyMs.p99} | ${x.sync.throughput} | ${x.sync.latencyMs.p99} | ${x.peer?.throughput ?? '-'} | ${x.peer ? `${x.peer.latencyMs.p50} / ${x.peer.latencyMs.p99}` : '-'} | ${ratio(x.settle.throughput, x.thin.throughput)} | ${ratio(x.settle.endToEndThroughput, x.sync.throughput)} | ${x.peer ? ratio(x.settle.endToEndThroughput, x.peer.throughput) : '-'} |`,
    ),
    '',
    `Acknowledgement latency at half of the peak ingest rate (${r.halfPeak.rate}/s, open loop, latency from each request's scheduled start, processing running alongside)${r.halfPeak.coldStart ? `, after a warm-up of ${r.halfPeak.coldStart.events} events at the same rate` : ''}: p50 ${r.halfPeak.latencyMs.p50} ms, p90 ${r.halfPeak.latencyMs.p90} ms, p99 ${r.halfPeak.latencyMs.p99} ms.` +
      (r.halfPeak.coldStart ? ` The warm-up itself, from a cold start: p50 ${r.halfPeak.coldStart.latencyMs.p50} ms, p99 ${r.halfPeak.coldStart.latencyMs.p99} ms.` : '') +
      (r.halfPeakThin ? ` The thin baseline at the same rate, warmed up the same way: p50 ${r.halfPeakThin.latencyMs.p50} ms, p99 ${r.halfPeakThin.latencyMs.p99} ms (cold start p99 ${r.halfPeakThin.coldStart?.latencyMs.p99 ?? '-'} ms): the floor on this machine.` : ''),
    '',
  ];
  const withProcesses = r.rows.filter((x) => x.settleProcesses);
  if (withProcesses.length) {
    lines.push(
      '### Processing in its own process (`WORKER_PROCESSES=1`)',
      '',
      'The same load, with the API forking one processing process (its own event loop, pool and core, at nice 10): the API only acknowledges and hands each stored event over IPC. Peak RSS is the two processes together.',
      '',
      '| concurrency | ingest/s | ack p50 / p99 ms | end-to-end/s | time to grant p50 / p99 ms | peak RSS MB | ingest ÷ thin | end-to-end ÷ sync | end-to-end ÷ stripe-sync-engine |',
      '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...withProcesses.map((x) => {
        const p = x.settleProcesses!;
        return `| ${x.concurrency} | ${p.throughput} | ${p.latencyMs.p50} / ${p.latencyMs.p99} | ${p.endToEndThroughput} | ${p.timeToGrantMs ? `${p.timeToGrantMs.p50} / ${p.timeToGrantMs.p99}` : '-'} | ${p.peakRssMb} | ${ratio(p.throughput, x.thin.throughput)} | ${ratio(p.endToEndThroughput, x.sync.throughput)} | ${x.peer ? ratio(p.endToEndThroughput, x.peer.throughput) : '-'} |`;
      }),
      '',
      ...(r.halfPeakProcesses
        ? [`Acknowledgement latency at half of the peak (${r.halfPeakProcesses.rate}/s, the same open loop and warm-up): p50 ${r.halfPeakProcesses.latencyMs.p50} ms, p90 ${r.halfPeakProcesses.latencyMs.p90} ms, p99 ${r.halfPeakProcesses.latencyMs.p99} ms${r.halfPeakProcesses.coldStart ? ` (cold start p99 ${r.halfPeakProcesses.coldStart.latencyMs.p99} ms)` : ''}.`, '']
        : []),
    );
  }
  const withCpu = r.rows.filter((x) => x.settle.cpuMsPerEvent && x.sync.cpuMsPerEvent);
  if (withCpu.length) {
    const total = (c: CpuPerEvent | undefined) => (c ? Math.round((c.server + c.postgres) * 100) / 100 : null);
    const cell = (c: CpuPerEvent | undefined) => (c ? `${c.server} + ${c.postgres} = ${total(c)}` : '-');
    lines.push(
      '### CPU per event',
      '',
      'What each design spends per event on this machine, in CPU milliseconds: its server process(es) plus PostgreSQL (every `postgres` process, from `/proc`, over the run; the load generator\'s own CPU is left out). For Settle the run is end to end (ingest, then processing until every event is settled); for the baselines it is their ingest, which is all they do. A design\'s rate is the cores it keeps busy divided by its CPU per event, so with the same cores busy the ratio of two designs\' rates is the inverse ratio of their CPU per event: the last column is that ratio for end-to-end ÷ sync.',
      '',
      '| concurrency | Settle (API + PostgreSQL) | Settle, `WORKER_PROCESSES=1` | thin | sync | stripe-sync-engine | sync ÷ Settle |',
      '| ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...withCpu.map(
        (x) =>
          `| ${x.concurrency} | ${cell(x.settle.cpuMsPerEvent)} | ${cell(x.settleProcesses?.cpuMsPerEvent)} | ${cell(x.thin.cpuMsPerEvent)} | ${cell(x.sync.cpuMsPerEvent)} | ${cell(x.peer?.cpuMsPerEvent)} | ${ratio(total(x.sync.cpuMsPerEvent)!, total(x.settle.cpuMsPerEvent)!)} |`,
      ),
      '',
    );
  }
  const c8 = r.rows.find((x) => x.concurrency === 8);
  const c32 = r.rows.find((x) => x.concurrency === 32);
  const cpuTotal = (c: CpuPerEvent) => Math.round((c.server + c.postgres) * 100) / 100;
  const cores = Number.parseInt(r.machine, 10) || 1;
  const cpuBound =
    c8?.settle.cpuMsPerEvent && c8.sync.cpuMsPerEvent
      ? {
          settle: cpuTotal(c8.settle.cpuMsPerEvent),
          sync: cpuTotal(c8.sync.cpuMsPerEvent),
          sameCores: ratio(cpuTotal(c8.sync.cpuMsPerEvent), cpuTotal(c8.settle.cpuMsPerEvent)),
          measured: ratio(c8.settle.endToEndThroughput, c8.sync.throughput),
          // Cores kept busy by server + PostgreSQL = CPU ms per event × events per second / 1000.
          settleBusy: Math.round((cpuTotal(c8.settle.cpuMsPerEvent) * c8.settle.endToEndThroughput) / 10) / 100,
          syncBusy: Math.round((cpuTotal(c8.sync.cpuMsPerEvent) * c8.sync.throughput) / 10) / 100,
          // Every core of the machine given to Settle's server and PostgreSQL, none to the load generator.
          allCores: ratio(Math.round((cores * 1000) / cpuTotal(c8.settle.cpuMsPerEvent)), c8.sync.throughput),
        }
      : null;
  const p95 = r.scale ? Math.max(...r.scale.queries.map((q) => q.p95)) : null;
  const rss = Math.max(...r.rows.map((x) => x.settle.peakRssMb));
  const rssProcesses = Math.max(0, ...r.rows.map((x) => x.settleProcesses?.peakRssMb ?? 0));
  // Each target row: in the API process, then with WORKER_PROCESSES=1 when measured.
  const both = (x: Row | undefined, f: (s: SettleRun) => number) => (x?.settleProcesses ? `${f(x.settle)}× / ${f(x.settleProcesses)}×` : x ? `${f(x.settle)}×` : '-');
  const best = (x: Row, f: (s: SettleRun) => number) => Math.max(f(x.settle), x.settleProcesses ? f(x.settleProcesses) : 0);
  const verdict = (ok: boolean | null) => (ok === null ? 'not measured' : ok ? 'met' : 'missed');
  lines.push(
    '## Against the targets',
    '',
    `| target | measured${r.rows.some((x) => x.settleProcesses) ? ' (in the API process / `WORKER_PROCESSES=1`)' : ''} | |`,
    '| --- | --- | --- |',
    `| ingest ≥ 1.0× thin at concurrency 8 | ${both(c8, (s) => ratio(s.throughput, c8!.thin.throughput))} | ${verdict(c8 ? best(c8, (s) => s.throughput) >= c8.thin.throughput : null)} |`,
    ...[c8, c32].map((x, i) =>
      x
        ? `| end-to-end ≥ 1.0× sync at concurrency ${i ? 32 : 8} (stretch 1.5×) | ${both(x, (s) => ratio(s.endToEndThroughput, x.sync.throughput))} | ${verdict(best(x, (s) => s.endToEndThroughput) >= x.sync.throughput)}${best(x, (s) => s.endToEndThroughput) >= 1.5 * x.sync.throughput ? ', stretch met' : ''} |`
        : `| end-to-end ≥ 1.0× sync at concurrency ${i ? 32 : 8} | - | not measured |`,
    ),
    ...[c8, c32].flatMap((x, i) =>
      x?.peer ? [`| (for comparison) end-to-end ÷ stripe-sync-engine at concurrency ${i ? 32 : 8} | ${both(x, (s) => ratio(s.endToEndThroughput, x.peer!.throughput))} | no target |`] : [],
    ),
    `| p99 ack ≤ 10 ms at half of peak | ${r.halfPeak.latencyMs.p99} ms${r.halfPeakProcesses ? ` / ${r.halfPeakProcesses.latencyMs.p99} ms` : ''}${r.halfPeakThin ? ` (thin at the same rate: ${r.halfPeakThin.latencyMs.p99} ms)` : ''} | ${verdict(Math.min(r.halfPeak.latencyMs.p99, r.halfPeakProcesses?.latencyMs.p99 ?? Infinity) <= 10)} |`,
    `| console list p95 < 50 ms at 1M orders | ${p95 ?? '-'} ms (worst query) | ${verdict(p95 === null ? null : p95 < 50)} |`,
    `| RSS < 250 MB under load | ${rss} MB${rssProcesses ? ` / ${rssProcesses} MB (two processes)` : ''} | ${verdict(rss < 250)}${rssProcesses >= 250 ? ' in the default setup; over with `WORKER_PROCESSES=1`' : ''} |`,
    '',
    '### Where the time goes',
    '',
    'Measured on 2026-12-02 on this VM with the built API (`apps/api/bench/profile-run.ts`: one load against a bundle,',
    'the API\'s CPU per event from `/proc`, optionally under `node --cpu-prof`), CPU per process from `/proc` (a 0.5 s',
    'sampler), PostgreSQL\'s own view from `pg_stat_statements`, and processing alone from `apps/api/bench/process-only.ts`',
    '(stored events drained by the real worker; `BENCH_TABLES=1` prints row churn):',
    '',
    '- **Ingest alone** (processing off, closed loop at concurrency 8, 6,000 events): 1,252 acknowledgements/s at p50',
    '  4.9 ms, the API spending 0.54 ms of CPU per event: on a quiet machine the route is as fast as the thin server',
    '  (1,281/s in that day\'s full run). The route verifies, inserts through the group commit (one multi-row `INSERT … ON',
    '  CONFLICT DO NOTHING` per batch of concurrent requests) and answers; no logger child, cookie hook or zod on the path.',
    '- **One webhook insert in flight** (`WEBHOOK_INSERT_CONCURRENCY`, 4 → 1 on 2026-12-03): with four in flight almost',
    '  every request had an insert and a commit of its own (5,724 inserts for 6,000 requests at concurrency 8, from',
    '  `pg_stat_statements`); with one, the requests that arrive while it runs share the next (1,699 inserts). Alternating',
    '  `profile-run.ts` runs, medians: at concurrency 8 with processing (5 rounds, 4 / 2 / 1 in flight) end-to-end',
    '  719 / 791 / 814 events/s, the API\'s CPU per event 1,048 / 952 / 922 µs, ack p99 26.9 / 28.0 / 26.8 ms; at 32',
    '  (4 rounds) end-to-end 791 / 840 / 894, CPU 959 / 910 / 859 µs, p99 65 / 72 / 74 ms; open loop at 900/s after a',
    '  warm-up (4 pairs, 4 vs 1) ack p99 41.2 → 30.2 ms (every run with one below every run with four), end-to-end',
    '  628 → 771, CPU 1,091 → 875 µs; ingest alone at 8 (4 pairs) 1,656 → 2,161 acknowledgements/s, CPU 462 → 339 µs.',
    '  Larger processing batches on top of it (`WORKER_EVENTS_PER_TRANSACTION` 25 vs 50, 4 pairs) processed more per',
    '  second (open loop at 900/s: end-to-end 768 → 848, CPU 884 → 759 µs) but doubled the ack tail (p99 33 → 57 ms),',
    '  so batches stay at 25.',
    '- **Processing costs about as much again per event**: with processing on, the API spends 1.12 ms of CPU per event',
    '  (+0.59 ms) and PostgreSQL ~0.75 ms more per event than for ingest alone, so on two shared cores ingest drops to',
    '  ~780/s and end-to-end is ~600/s. Processing alone drains 930–1,340 events/s at 0.71–0.75 statements and 0.09',
    '  BEGIN/COMMIT per event. Inside PostgreSQL (`pg_stat_statements`, 3,000 events) the whole of processing executes',
    '  in ~1.4 s: the claim (`UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED)`, ~0.1 ms a row), settling the',
    '  events (~0.1 ms a row) and writing orders (~0.35 ms a row) lead. Each event row is updated 1.5 times, almost',
    '  never HOT (its state is indexed); each order update is not HOT either (status is indexed, and the three trigram',
    '  indexes take new entries). A fillfactor of 70 on `stripe_events` made a quarter of the updates HOT and did not',
    '  change the time (alternating pairs), so it was not kept. Dropping the three trigram indexes (the console\'s search;',
    '  `DB_SQL` in `profile-run.ts`, 4 alternating pairs at concurrency 8 with processing, 2026-12-03) moved end-to-end',
    '  from a median of 787 to 798 events/s and the API\'s CPU per event from 899 to 851 µs: within this VM\'s noise, so',
    '  the search indexes are not what processing pays for.',
    '- **The CPU profile has no hot spot left in JavaScript**: at 720/s open loop with processing, 30% of the API\'s',
    '  samples are `writev` on PostgreSQL sockets (on this VM a write wakes the backend, which then runs on the core the',
    '  API was using; the sample stays in `writev` until the API runs again), 18% idle, 2.7% garbage collection, and no',
    '  function of Settle, Kysely, `pg` or Fastify above ~1% self time.',
    '- **Set-based batches** (`apps/api/src/payments/order-unit-of-work.ts`): a batch reads and locks every order it names',
    '  in one statement (in id order, skipping rows another transaction holds), decides each event in Stripe-time order',
    '  through the one order use case against that cache, and writes what the decisions produce at flush, one multi-row',
    '  statement per kind (orders, audit, grants, revocations, credit movements and ledger, invoices, host messages,',
    '  event outcomes). Statements per event went 3.18–3.32 → 0.73–0.87; BEGIN/COMMIT/SAVEPOINT 0.46–0.65 → 0.09–0.12;',
    '  drain 366 → ~650 events/s in the session that built it.',
    '- **Stripe reads outside transactions**: thin notifications (and refunds or disputes naming only their charge) are',
    '  resolved before the event\'s transaction, up to 8 at once per processor. With a local Stripe fake answering in',
    '  100 ms (`BENCH_THIN_MS=100`, 983 thin notifications), the drain went from 23 to 81 events/s (8 reads in flight',
    '  at 100 ms each is the cap, chosen to stay under Stripe\'s live read limit of 100/s).',
    '- **Events Settle never acts on are settled as they are stored** (2026-12-03): `charge.succeeded`, `charge.updated`,',
    '  `charge.pending`, `charge.failed` and `charge.dispute.updated` are 23 of the 90 events of the benchmark\'s journeys',
    '  (a quarter); the route now stores them as `processed`/`unsupported`, so they never cost a claim, a processing',
    '  transaction or a row update. Five alternating `profile-run.ts` pairs at concurrency 8 (6,000 events, processing',
    '  on): end-to-end median 721 vs 690 events/s, the API\'s CPU per event 875 vs 918 µs, the load generator and API',
    '  together 2.8% less CPU (whole-process, median of the pairs\' ratios): a few percent, at the edge of this VM\'s',
    '  noise; those events were already cheap inside a batch. An account that sends every event type gains more.',
    '',
    'Scheduling: while webhook requests are in flight, processing runs one batch (up to 25 events, one transaction) at a',
    'time. Starting each next batch on `setImmediate`, opening a second batch slot once a backlog builds, and letting a',
    'new event join the backlog\'s next batch instead of taking a slot alone were each tried in alternating pairs on this',
    'VM and were not distinguishable from its noise, so it stays. A burst still leaves a backlog, which is what "time to',
    'grant" under closed-loop load measures: at concurrency 1 it is tens of milliseconds, at 8 and 32 close to the burst.',
    '',
    'Two more shapes were built and measured on 2026-12-02 evening (`profile-run.ts`, alternating runs) and not kept:',
    '- **Processing inside the webhook insert\'s transaction** (the group commit applies the events it has just stored',
    '  before its commit, so a grant commits with its acknowledgement): closed loop at concurrency 8, end-to-end fell from',
    '  512–613 to 200–231 events/s and the API\'s CPU per event rose from 1.1–1.3 to 2.2–2.3 ms. Each acknowledgement',
    '  now waits for a whole processing transaction (about a dozen round trips for the few events a batch holds at',
    '  that concurrency), and a closed loop\'s rate is its concurrency over that wait; the worker\'s batches of 25 share',
    '  their round trips far better.',
    '- **The webhook answered by a plain `node:http` handler in front of Fastify** (no request or reply objects, routing',
    '  or content-type parser on the hot path): ingest alone at concurrency 8, five alternating pairs, 1,079 (Fastify)',
    '  vs 1,091 acknowledgements/s, CPU per event 0.56–0.77 vs 0.50–0.76 ms: not distinguishable on this VM, so the',
    '  route stays a Fastify route with its body limit and parser.',
    '',
    'Processing in its own process (`WORKER_PROCESSES=1`, measured in every run, table above): the API forks a processing',
    'process at nice 10 with its own pool and hands it each stored event over IPC. On this VM it has not paid as a',
    'default: end-to-end moved by a few percent either way in most runs (in the 2026-12-02 afternoon run it was 31%',
    'higher at concurrency 8 and equal at 32), the acknowledgement',
    'tail at half of peak is worse in every run (its transactions run in PostgreSQL backends at normal priority, and it runs',
    'its batches side by side instead of one at a time while webhooks are in flight), and it costs a second Node process',
    '(~120 MB). Telling it when the API has webhooks in flight (so it too runs one batch at a time) was tried in',
    'alternating pairs at 720/s and was indistinguishable from the noise. It stays an option, off by default, for hosts',
    'with cores to spare; on two shared cores the choice is processing in the API process.',
    '',
    'What bounds the missed targets here. Ingest: the route alone matches the thin server; with processing running, the',
    'cycles processing needs (~0.6 ms in the API and ~0.75 ms in PostgreSQL per event) come from the same two cores as',
    'the load generator\'s and ingest\'s. End-to-end: the sync baseline and stripe-sync-engine do one statement per event',
    'and keep no order state, audit, grants, outbox or retries; Settle stores the event (as thin does) and then processes',
    'it (the state machine, audit, grants, ledger, invoices, outbox), and every event costs it CPU accordingly.' +
      (cpuBound
        ? ` In this run at concurrency 8 Settle spent ${cpuBound.settle} ms of CPU per event end to end (API + PostgreSQL) and sync ${cpuBound.sync} ms (table "CPU per event"). With the same cores busy, end-to-end ÷ sync would be ${cpuBound.sameCores}×; the run measured ${cpuBound.measured}× because Settle kept more of them busy (${cpuBound.settleBusy} cores of server + PostgreSQL against sync\'s ${cpuBound.syncBusy}). With all ${cores} cores given to Settle and none to the load generator, it would process ${Math.round((cores * 1000) / cpuBound.settle)} events/s, ${cpuBound.allCores}× sync\'s measured rate: that is the bound on this machine. Reaching 1.0× would need Settle\'s whole processing to cost no more CPU than about one upsert per event.`
        : ' On two shared cores its end-to-end is bounded well below sync\'s.'),
    'The same split in separate processes (`WORKER_PROCESSES=1`) costs more CPU per event, not less (IPC, a second pool).',
    'Acknowledgement p99: the measured stream runs after a warm-up at the same rate (the first seconds of a fresh',
    'process, JIT and pools, have a long tail of their own, even for the thin server: the cold-start figures above), and the thin',
    'baseline is measured the same way as the floor.' +
      (r.halfPeakThin && cpuBound
        ? ` In this run thin\'s p99 was ${r.halfPeakThin.latencyMs.p99} ms at ${r.halfPeak.rate}/s and Settle\'s ${r.halfPeak.latencyMs.p99} ms. Thin only stores; Settle also processes every event at that rate, which at ${cpuBound.settle} ms of CPU per event (concurrency 8, above) keeps about ${Math.round((cpuBound.settle * r.halfPeak.rate) / 10) / 100} of the ${cores} cores busy before the load generator takes its share: the acknowledgements queue for the cores behind processing\'s work, which is the tail.`
        : ' Settle\'s tail is what processing\'s share of the cores adds to the floor.'),
    '',
    'Console search (`listOrdersForAdmin`): ids are seeded as Stripe makes them (random suffixes), so a full id or an',
    '8-character prefix matches one order; each customer and e-mail has 20. A term is found anywhere in one field (order id,',
    'Stripe ids, user id, e-mail) through one trigram index per kind of field; an id-like term (a run of 8 or more letters',
    'and digits) asks the index for 8 characters of that run only, since every hex trigram is in a few percent of orders.',
    'A term ending in a number after a word ("user_4321") asks the user-id and e-mail indexes for the number only (with',
    'the separator before it when it has one or two digits): "use" and "ser" are in every user id, and reading their',
    'posting lists was most of the 31 ms p50 of a search by user id (now 12–17 ms). Terms not expected to be rare first',
    'walk the newest 5,000 orders: when a page of matches is among them, that is the answer (a fragment in at least ~1%',
    'of orders); otherwise every match comes from the indexes and is sorted, so the cost grows with the matches: the',
    '0.22% fragments ("user_50") pay the walk and then the index.',
    '',
    'The sync baseline and stripe-sync-engine keep no order state, audit, grants or retries: their ratio prices what',
    'Settle does, not only how fast it does it. Repeated runs on this VM differ by far more than ±20% when other jobs',
    'share it (the baselines too): compare the ratios within one run.',
    '',
  );
  if (r.scale) {
    lines.push(
      `## Console queries at ${r.scale.orders.toLocaleString('en')} orders and ${r.scale.events.toLocaleString('en')} events`,
      '',
      `${r.scale.seedSeconds === null ? 'Seeded with \`generate_series\` by an earlier run (`BENCH_SCALE_DB`)' : `Seeded with \`generate_series\` in ${r.scale.seedSeconds} s`}; timed over HTTP through tRPC with an admin token (60 calls after 5 warm-up calls).`,
      '',
      '| query | p50 ms | p95 ms |',
      '| --- | ---: | ---: |',
      ...r.scale.queries.map((q) => `| ${q.name} | ${q.p50} | ${q.p95} |`),
      '',
      'The broad fragment is the query nearest the target, and the one that moves most run to run on this VM: its p95',
      'was 37–64 ms before its search asked the index for `_50`, then 38, 39.5 and 51.3 ms in runs on 2026-12-02, and',
      '34.6 ms in the first full run after the newest-first walk tested the ids one by one in the C collation (timed',
      'directly against the repository, three alternating pairs: p50 11.1 → 8.9 ms). `BENCH_SCALE_DB` keeps the seeded',
      'database between `--scale-only` runs for working on these queries.',
      '',
    );
  }
  return lines.join('\n');
}

if (REPORT_ONLY) {
  // Rewrite docs/PERFORMANCE.md from the last results, without measuring again.
  writeFileSync(`${ROOT}/docs/PERFORMANCE.md`, report(JSON.parse(readFileSync(`${ROOT}/bench-results/latest.json`, 'utf8'))));
} else {
  await main();
}
