import { createTestDatabase, type TestDatabase } from '@settle/db/testing';
import { PAYMENT_JOURNEYS, deliveryOrder, seededRandom } from '@settle/stripe-simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkOracle, planJourneys, sendAll, spawnApi, waitForConvergence, type ApiProcess } from './cluster.js';

describe.skipIf(!process.env.DATABASE_URL)('concurrency: three instances, 10k events, 30% duplicates, shuffled', () => {
  let database: TestDatabase;
  const procs: ApiProcess[] = [];
  beforeAll(async () => {
    database = await createTestDatabase('postgres');
  });
  afterAll(async () => {
    for (const p of procs) p.proc.kill('SIGKILL');
    await database?.dispose();
  });

  it('ends every order as the oracle says, with exactly one grant per paid order', async () => {
    const random = seededRandom(7);
    // ~8 events per journey: 960 journeys give ~7.7k events, 10k deliveries with 30% duplicates.
    const { orders, events } = await planJourneys(database.db, 960, random, PAYMENT_JOURNEYS);
    const deliveries = deliveryOrder(events, { duplicates: 0.3, shuffle: true, random }).slice(0, 10_000);
    const missing = events.filter((e) => !deliveries.includes(e));
    deliveries.push(...missing);
    procs.push(...(await Promise.all([spawnApi(database.url!), spawnApi(database.url!), spawnApi(database.url!)])));
    const started = Date.now();
    const stats = await sendAll(deliveries, () => procs.map((p) => p.url), { concurrency: 24, deadlineMs: 180_000 });
    const ackMs = Date.now() - started;
    const convergedInMs = await waitForConvergence(database.db, 60_000);
    const problems = await checkOracle(database.db, orders, new Set(events.map((e) => e.id)));
    console.log(
      `concurrency: ${orders.length} orders, ${events.length} events, ${deliveries.length} deliveries to 3 processes, ` +
        `acknowledged in ${ackMs} ms (${Math.round((deliveries.length / ackMs) * 1000)}/s), converged ${convergedInMs} ms later; ` +
        `statuses ${JSON.stringify(stats.byStatus)}`,
    );
    expect(stats.byStatus['200']).toBe(deliveries.length);
    expect(problems).toEqual([]);
  }, 300_000);
});
