/**
 * One load run against one API bundle, for profiles and A/B comparisons (what "where the time goes"
 * in docs/PERFORMANCE.md quotes). Prints the load result plus the API process's CPU per event read
 * from /proc. Needs DATABASE_URL and a built bundle (`node build.mjs`).
 *   API_JS   bundle to run (default dist/main.js; to compare two builds, copy one aside inside dist/)
 *   N, C     events (6000) and concurrency (8); RATE instead of C: open loop at that rate
 *   WORKERS  WORKER_CONCURRENCY of the API (0: ingest alone; else waits until every event is processed)
 *   PROF     a folder: run the API under `node --cpu-prof` and write the profile there
 *   API_ENV  more settings for the API, `NAME=value` separated by spaces
 *   BASELINE thin or sync: run that baseline server (bench/baseline-servers.ts) instead of the API, for the floor under the same load
 *   DB_SQL   SQL run on the migrated database before the API starts (e.g. drop an index, to measure what it costs)
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { sql } from 'kysely';
import { createTestDatabase } from '@settle/db/testing';
import { PAYMENT_JOURNEYS, deliveryOrder, seededRandom } from '@settle/stripe-simulator';
import { WEBHOOK_SECRET } from '../test/harness.js';
import { freePort, planJourneys, waitForConvergence } from '../test/faults/cluster.js';
import { runLoad, runLoadAtRate } from './load.js';
const database = await createTestDatabase('postgres');
if (process.env.DB_SQL) await sql.raw(process.env.DB_SQL).execute(database.db);
const random = seededRandom(8);
const N = Number(process.env.N ?? 6000);
const { events } = await planJourneys(database.db, Math.ceil(N / 8.5), random, PAYMENT_JOURNEYS);
const bodies = deliveryOrder(events, { duplicates: 0.1, shuffle: true, random }).slice(0, N).map((e) => JSON.stringify(e));
const WARM = Number(process.env.WARM ?? 0);
const warmBodies = WARM ? deliveryOrder((await planJourneys(database.db, Math.ceil(WARM / 8.5), random, PAYMENT_JOURNEYS)).events, { duplicates: 0.1, shuffle: true, random }).slice(0, WARM).map((e) => JSON.stringify(e)) : [];
const port = await freePort();
const js = process.env.API_JS ?? new URL('../dist/main.js', import.meta.url).pathname;
const baseline = process.env.BASELINE;
const proc = spawn(process.execPath, [...(process.env.PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.PROF}`] : []), ...(baseline ? ['--import', 'tsx', new URL('./baseline-servers.ts', import.meta.url).pathname, baseline, String(port)] : [js])], {
  env: { PATH: process.env.PATH!, NODE_ENV: 'test', PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: database.url!, STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET, USER_JWT_SECRET: 'test-user-jwt-secret-0123456789', LOG_LEVEL: 'warn', WORKER_POLL_MS: '100', RECONCILE_INTERVAL_MS: '0', WORKER_CONCURRENCY: process.env.WORKERS ?? '0', ...Object.fromEntries((process.env.API_ENV ?? '').split(/\s+/).filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])) },
  stdio: ['ignore', 'inherit', 'inherit'],
});
const url = `http://127.0.0.1:${port}`;
let exited: number | null = null;
proc.once('exit', (code) => (exited = code ?? -1));
for (;;) {
  // A bundle that cannot start (e.g. copied outside dist/, where its packages do not resolve) must not hang the run.
  if (exited !== null) throw new Error(`the API (${js}) exited with ${exited} before it was ready`);
  // A baseline answers any path once listening (its 404 is an answer); the API answers /readyz once ready.
  try { const r = await fetch(`${url}/readyz`); if (r.ok || (baseline && r.status > 0)) break; } catch {}
  await new Promise((r) => setTimeout(r, 100));
}
const cpu = () => { const f = readFileSync(`/proc/${proc.pid}/stat`, 'utf8').split(') ')[1]!.split(' '); return (Number(f[11]) + Number(f[12])) * 10; };
if (WARM) { const rate = Number(process.env.RATE ?? 0); rate ? await runLoadAtRate(`${url}/webhooks/stripe`, warmBodies, WEBHOOK_SECRET, rate) : await runLoad(`${url}/webhooks/stripe`, warmBodies, WEBHOOK_SECRET, Number(process.env.C ?? 8)); }
const c0 = cpu();
const t0 = performance.now();
const rate = Number(process.env.RATE ?? 0);
const { sentAt: _, ...res } = rate ? await runLoadAtRate(`${url}/webhooks/stripe`, bodies, WEBHOOK_SECRET, rate) : await runLoad(`${url}/webhooks/stripe`, bodies, WEBHOOK_SECRET, Number(process.env.C ?? 8));
if (process.env.WORKERS !== '0' && !baseline) await waitForConvergence(database.db, 600_000);
const apiCpuMs = cpu() - c0;
console.log(JSON.stringify({ ...res, apiCpuUsPerEvent: Math.round((apiCpuMs * 1000) / bodies.length), e2e: Math.round(bodies.length / ((performance.now() - t0) / 1000)) }));
if (process.env.METRICS) console.log((await (await fetch(`${url}/metrics`)).text()).split('\n').filter((l) => /^nodejs_eventloop_lag_(p50|p90|p99|max)|^nodejs_gc_duration_seconds_sum/.test(l)).join('\n'));
proc.kill('SIGTERM');
await new Promise((r) => proc.once('exit', r));
await database.dispose();
