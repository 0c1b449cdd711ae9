import { PAYMENT_JOURNEYS, deliveryOrder, seededRandom } from '@settle/stripe-simulator';
import { describe, expect, it } from 'vitest';
import { checkOracle, planJourneys, sendAll, waitForConvergence } from './cluster.js';
import { useCluster } from './use-cluster.js';

describe.skipIf(!process.env.DATABASE_URL)('concurrency: three instances, 10k events, 30% duplicates, shuffled', () => {
  const cluster = useCluster();

  it('ends every order as the oracle says, with exactly one grant per paid order', async () => {
    const random = seededRandom(7);
    // ~8 events per journey: 960 journeys give ~7.7k events, 10k deliveries with 30% duplicates.
    const { orders, events } = await planJourneys(cluster.database.db, 960, random, PAYMENT_JOURNEYS);
    const deliveries = deliveryOrder(events, { duplicates: 0.3, shuffle: true, random }).slice(0, 10_000);
    const missing = events.filter((e) => !deliveries.includes(e));
    deliveries.push(...missing);
    const procs = await Promise.all([cluster.spawn(), cluster.spawn(), cluster.spawn()]);
    const started = Date.now();
    const stats = await sendAll(deliveries, () => procs.map((p) => p.url), { concurrency: 24, deadlineMs: 180_000 });
    const ackMs = Date.now() - started;
    const convergedInMs = await waitForConvergence(cluster.database.db, 60_000);
    const problems = await checkOracle(cluster.database.db, orders, new Set(events.map((e) => e.id)));
    console.log(
      `concurrency: ${orders.length} orders, ${events.length} events, ${deliveries.length} deliveries to 3 processes, ` +
        `acknowledged in ${ackMs} ms (${Math.round((deliveries.length / ackMs) * 1000)}/s), converged ${convergedInMs} ms later; ` +
        `statuses ${JSON.stringify(stats.byStatus)}`,
    );
    expect(stats.byStatus['200']).toBe(deliveries.length);
    expect(problems).toEqual([]);
  }, 300_000);
});
