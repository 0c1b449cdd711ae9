import { createAdminToken } from '@settle/db';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { send, startApi, trpcClient, type TestApi } from './harness.js';

const DEADLINE_MS = 1_500;

/**
 * Console queries that wait on a lock until released, holding a pooled connection each: with the
 * LISTEN connection (one of the pool's for good), `connections` + 1 is the whole of the main pool.
 */
async function holdMainPool(api: TestApi, connections: number) {
  const { token } = await createAdminToken(api.db, { name: `viewer-${Date.now()}`, role: 'viewer', createdBy: 'test' });
  const admin = trpcClient(api.url, token);
  const locker = new pg.Client({ connectionString: api.databaseUrl! });
  await locker.connect();
  await locker.query('begin');
  await locker.query('lock table orders in access exclusive mode');
  const waiting = Array.from({ length: connections }, () => admin.admin.orders.list.query({}).catch((err: unknown) => err));
  const blocked = async () =>
    (await locker.query<{ n: number }>("select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and datname = current_database()")).rows[0]!.n;
  for (let i = 0; (await blocked()) < connections; i++) {
    if (i > 200) throw new Error(`the console queries never came to wait on the lock: ${JSON.stringify((await locker.query("select state, wait_event_type, left(query, 80) as q from pg_stat_activity where datname = current_database()")).rows)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return async () => {
    await locker.query('rollback');
    await Promise.all(waiting);
    await locker.end();
  };
}

function event(id: string) {
  const created = Math.floor(Date.now() / 1000);
  return { id, object: 'event', type: 'customer.created', created, api_version: '2025-03-31.basil', livemode: false, data: { object: { id: `cus_${id}`, object: 'customer' } } };
}

// Pools are PostgreSQL's: PGlite has one connection and no pool to exhaust.
describe.skipIf(!process.env.DATABASE_URL)('webhook inserts while slow console queries hold every pooled connection', () => {
  it('stores and acknowledges the delivery at once through the inbox\'s own pool', async () => {
    const api = await startApi('postgres', { DATABASE_POOL_MAX: '3', WEBHOOK_STORE_DEADLINE_MS: String(DEADLINE_MS) });
    try {
      const release = await holdMainPool(api, 2);
      try {
        const started = Date.now();
        const r = await send(api, event('evt_pool_own'));
        expect(r.status).toBe(200);
        expect(Date.now() - started).toBeLessThan(DEADLINE_MS);
      } finally {
        await release();
      }
      expect(await api.db.selectFrom('stripe_events').select('id').where('id', '=', 'evt_pool_own').executeTakeFirst()).toEqual({ id: 'evt_pool_own' });
    } finally {
      await api.close();
    }
  }, 60_000);

  it('sharing the main pool (WEBHOOK_POOL_MAX=0), the same delivery is refused with 503 at the store deadline', async () => {
    const api = await startApi('postgres', { DATABASE_POOL_MAX: '3', WEBHOOK_POOL_MAX: '0', WEBHOOK_STORE_DEADLINE_MS: String(DEADLINE_MS) });
    try {
      const release = await holdMainPool(api, 2);
      try {
        expect((await send(api, event('evt_pool_shared'))).status).toBe(503);
      } finally {
        await release();
      }
    } finally {
      await api.close();
    }
  }, 60_000);
});
