import { createTestDatabase, type TestDatabase } from '@settle/db/testing';
import { PAYMENT_JOURNEYS, deliveryOrder, seededRandom } from '@settle/stripe-simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkOracle, planJourneys, sendAll, spawnApi, waitForConvergence, type ApiProcess } from './cluster.js';

// Several processes against one PostgreSQL: only meaningful on a real server.
describe.skipIf(!process.env.DATABASE_URL)('crash: SIGKILL mid-load, restart, nothing lost or done twice', () => {
  let database: TestDatabase;
  const procs: ApiProcess[] = [];
  beforeAll(async () => {
    database = await createTestDatabase('postgres');
  });
  afterAll(async () => {
    for (const p of procs) p.proc.kill('SIGKILL');
    await database?.dispose();
  });

  it('converges to the oracle after three kills', async () => {
    const random = seededRandom(20261126);
    const { orders, events } = await planJourneys(database.db, 400, random, PAYMENT_JOURNEYS);
    const deliveries = deliveryOrder(events, { duplicates: 0.2, shuffle: true, random });
    const a = await spawnApi(database.url!);
    let b = await spawnApi(database.url!);
    procs.push(a, b);
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
      b = await spawnApi(database.url!, {}, b.port);
      procs.push(b);
      bAlive = true;
    }
    const stats = await sending;
    const convergedInMs = await waitForConvergence(database.db, 60_000);
    const problems = await checkOracle(database.db, orders, new Set(events.map((e) => e.id)));
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
