import { sql } from 'kysely';
import { Migrator } from 'kysely/migration';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateToLatest } from '../migrate.js';
import { createTestDatabase, type TestDatabase } from '../testing.js';
import { migrations } from './index.js';

/** What README "Upgrading" tells an operator of a large database to run before upgrading (outside a transaction). */
const PREBUILD = [
  `create or replace function order_ids_text(id uuid, session text, intent text, customer text) returns text
     language sql immutable parallel safe as $$
       select lower(id::text || ' ' || coalesce(session, '') || ' ' || coalesce(intent, '') || ' ' || coalesce(customer, ''))
     $$`,
  `create index concurrently if not exists orders_ids_trgm_idx on orders using gin (order_ids_text(id, checkout_session_id, payment_intent_id, stripe_customer_id) gin_trgm_ops)`,
  `create index concurrently if not exists orders_user_trgm_idx on orders using gin (lower(user_id) gin_trgm_ops)`,
  `create index concurrently if not exists orders_email_trgm_idx on orders using gin (lower(customer_email) gin_trgm_ops)`,
];

const indexOids = async (db: TestDatabase['db']) =>
  (
    await sql<{ relname: string; oid: number }>`
      select relname, oid::int from pg_class where relname in ('orders_ids_trgm_idx', 'orders_user_trgm_idx', 'orders_email_trgm_idx', 'orders_search_trgm_idx') order by relname`.execute(db)
  ).rows;

// `create index concurrently` is PostgreSQL's (and cannot run in the migration's transaction).
describe.skipIf(!process.env.DATABASE_URL)('upgrading a large database to per-field search', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    // Back to the release before: one combined search index.
    const migrator = new Migrator({ db: database.db, provider: { getMigrations: async () => migrations } });
    const { error } = await migrator.migrateTo('20261201080800_refunds_duplicates_ignored');
    if (error) throw error;
  });
  afterAll(() => database?.dispose());

  it('keeps the indexes an operator built concurrently beforehand, and drops the old one', async () => {
    expect((await indexOids(database.db)).map((r) => r.relname)).toEqual(['orders_search_trgm_idx']);
    for (const statement of PREBUILD) await sql.raw(statement).execute(database.db);
    const prebuilt = await indexOids(database.db);
    expect(prebuilt.map((r) => r.relname)).toEqual(['orders_email_trgm_idx', 'orders_ids_trgm_idx', 'orders_search_trgm_idx', 'orders_user_trgm_idx']);

    // The per-field search migration, and whatever came after it.
    expect((await migrateToLatest(database.db))[0]).toBe('20261202030000_search_per_field');
    const after = await indexOids(database.db);
    expect(after).toEqual(prebuilt.filter((r) => r.relname !== 'orders_search_trgm_idx'));
  });
});
