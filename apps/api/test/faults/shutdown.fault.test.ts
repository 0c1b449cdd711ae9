import { PAYMENT_JOURNEYS, deliveryOrder, seededRandom } from '@settle/stripe-simulator';
import { describe, expect, it } from 'vitest';
import { checkOracle, planJourneys, sendAll, waitForConvergence } from './cluster.js';
import { useCluster } from './use-cluster.js';

describe.skipIf(!process.env.DATABASE_URL)('graceful shutdown on SIGTERM', () => {
  const cluster = useCluster();

  it('stops taking work, finishes what it holds, releases its leases and exits 0; the other instance finishes the rest', async () => {
    const random = seededRandom(5);
    const { orders, events } = await planJourneys(cluster.database.db, 150, random, PAYMENT_JOURNEYS);
    const deliveries = deliveryOrder(events, { duplicates: 0.1, shuffle: true, random });
    const a = await cluster.spawn();
    const b = await cluster.spawn();
    let bUp = true;
    const sending = sendAll(deliveries, () => (bUp ? [a.url, b.url] : [a.url]), { concurrency: 8, deadlineMs: 60_000 });
    await new Promise((r) => setTimeout(r, 700));
    const termAt = Date.now();
    b.proc.kill('SIGTERM');
    const exit = await b.exited;
    bUp = false;
    const stoppedInMs = Date.now() - termAt;
    await sending;
    await waitForConvergence(cluster.database.db, 60_000);
    expect(exit).toEqual({ code: 0, signal: null });
    const held = await cluster.database.db.selectFrom('stripe_events').select('id').where('locked_until', 'is not', null).where('state', '!=', 'processed').execute();
    expect(held).toEqual([]);
    expect(await checkOracle(cluster.database.db, orders, new Set(events.map((e) => e.id)))).toEqual([]);
    console.log(`shutdown: SIGTERM to exit in ${stoppedInMs} ms; ${events.length} events all processed`);
  }, 120_000);
});
