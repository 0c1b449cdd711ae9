// Ad-hoc probe: Settle's ingest alone (no processing) vs processing alone.
import { createTestDatabase } from '@settle/db/testing';
import { PAYMENT_JOURNEYS, deliveryOrder, seededRandom } from '@settle/stripe-simulator';
import { WEBHOOK_SECRET } from '../test/harness.js';
import { planJourneys, spawnApi, waitForConvergence } from '../test/faults/cluster.js';
import { runLoad } from './load.js';

process.env.SETTLE_API_DIST = '1';
const c = Number(process.env.C ?? 8);
const database = await createTestDatabase('postgres');
const random = seededRandom(1);
const { events } = await planJourneys(database.db, 700, random, PAYMENT_JOURNEYS);
const bodies = deliveryOrder(events, { duplicates: 0.1, shuffle: true, random }).slice(0, 6000).map((e) => JSON.stringify(e));
const api = await spawnApi(database.url!, { LOG_LEVEL: 'warn', RECONCILE_INTERVAL_MS: '0', WORKER_CONCURRENCY: '0', WEBHOOK_INSERT_CONCURRENCY: process.env.IC ?? '4' });
const r = await runLoad(`${api.url}/webhooks/stripe`, bodies, WEBHOOK_SECRET, c);
console.log('ingest only', r.throughput, r.latencyMs);
api.proc.kill('SIGINT');
await api.exited;
const t = performance.now();
const worker = await spawnApi(database.url!, { LOG_LEVEL: 'warn', RECONCILE_INTERVAL_MS: '0', WORKER_CONCURRENCY: process.env.W ?? '4' });
await waitForConvergence(database.db, 600_000);
console.log('processing only', Math.round(bodies.length / ((performance.now() - t) / 1000)), '/s (incl. ~1s start)');
worker.proc.kill('SIGINT');
await worker.exited;
await database.dispose();
