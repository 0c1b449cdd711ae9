import { PAYMENT_JOURNEYS, deliveryOrder, seededRandom } from '@settle/stripe-simulator';
import { describe, expect, it } from 'vitest';
import { checkOracle, planJourneys, sendAll, waitForConvergence } from './cluster.js';
import { useCluster } from './use-cluster.js';

// Several processes against one PostgreSQL: only meaningful on a real server.
describe.skipIf(!process.env.DATABASE_URL)('crash: SIGKILL mid-load, restart, nothing lost or done twice', () => {
  const cluster = useCluster();

  it('converges to the oracle after three kills', async () => {
    const random = seededRandom(20261126);
    const { orders, events } = await planJourneys(cluster.database.db, 400, random, PAYMENT_JOURNEYS);
    const deliveries = deliveryOrder(events, { duplicates: 0.2, shuffle: true, random });
    const a = await cluster.spawn();
    let b = await cluster.spawn();
    let bAlive = true;
    const targets = () => (bAlive ? [a.url, b.url] : [a.url]);

    const started = Date.now();
    const sending = sendAll(deliveries, targets, { concurrency: 16, deadlineMs: 120_000 });
    let kills = 0;
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 1_500));
      bAlive = false;
      b.proc.kill('SIGKILL');
      await b.exited;
      kills += 1;
      b = await cluster.spawn({}, b.port);
      bAlive = true;
    }
    const stats = await sending;
    const convergedInMs = await waitForConvergence(cluster.database.db, 60_000);
    const problems = await checkOracle(cluster.database.db, orders, new Set(events.map((e) => e.id)));
    console.log(
      `crash: ${orders.length} orders, ${events.length} events, ${deliveries.length} deliveries ` +
        `(${deliveries.length - events.length} duplicates), ${kills} SIGKILLs, ${stats.sent} requests ` +
        `(${stats.retried} re-sent; statuses ${JSON.stringify(stats.byStatus)}), converged ${convergedInMs} ms after the last ack, ` +
        `${Date.now() - started} ms in all`,
    );
    expect(problems).toEqual([]);
    expect(kills).toBe(3);
  }, 240_000);
});
