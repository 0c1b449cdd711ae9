import { sql } from '@settle/db';
import { PAYMENT_JOURNEYS, deliveryOrder, seededRandom } from '@settle/stripe-simulator';
import { describe, expect, it } from 'vitest';
import { checkOracle, planJourneys, sendAll, waitForConvergence, type ApiProcess } from './cluster.js';
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

describe.skipIf(!process.env.DATABASE_URL)('graceful shutdown on SIGTERM during start-up', () => {
  const cluster = useCluster();

  it('a SIGTERM while start-up still runs (the stored flag read waiting on the database, before the port opens) closes just as gracefully: exit 0, leases released, nothing lost', async () => {
    const db = cluster.database.db;
    const random = seededRandom(11);
    const { orders, events } = await planJourneys(db, 30, random, PAYMENT_JOURNEYS);
    const deliveries = deliveryOrder(events, { duplicates: 0.1, shuffle: true, random });
    // A slow database for the flag source's first read: start-up is held inside listen(), before the
    // bind (no order may be created before the stored flag, a kill switch, is known).
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const holding = db.connection().execute(async (conn) => {
      await sql`begin`.execute(conn);
      await sql`lock table feature_flags in access exclusive mode`.execute(conn);
      locked();
      await released;
      await sql`commit`.execute(conn);
    });
    await isLocked;
    try {
      const a = await cluster.spawn({ LOG_LEVEL: 'info' }, undefined, { until: /"msg":"database ready"/ });
      let live: ApiProcess | null = a;
      const sending = sendAll(deliveries, () => (live ? [live.url] : []), { concurrency: 8, deadlineMs: 60_000 });
      await new Promise((r) => setTimeout(r, 700));
      const termAt = Date.now();
      a.proc.kill('SIGTERM');
      // The database answers again while it shuts down.
      setTimeout(release, 300);
      const exit = await a.exited;
      live = null;
      const stoppedInMs = Date.now() - termAt;
      expect(exit, a.output()).toEqual({ code: 0, signal: null });
      const held = await db.selectFrom('stripe_events').select('id').where('locked_by', 'is not', null).where('state', '!=', 'processed').execute();
      expect(held).toEqual([]);
      // Another instance finishes what was acknowledged (and what was refused and sent again).
      live = await cluster.spawn();
      await sending;
      await waitForConvergence(db, 60_000);
      expect(await checkOracle(db, orders, new Set(events.map((e) => e.id)))).toEqual([]);
      console.log(`shutdown during start-up: SIGTERM to exit in ${stoppedInMs} ms; ${events.length} events all processed`);
    } finally {
      release();
      await holding;
    }
  }, 120_000);
});
