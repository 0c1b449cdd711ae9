import { sql } from '@settle/db';
import { createTestDatabase, migrateDownTo, type TestDatabase } from '@settle/db/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type TestApi } from './harness.js';

const INDEX_MIGRATION = '20261203170000_thin_snapshot_index';

// A migration may run for minutes on a large database (README, "Upgrading"); the pool's query
// timeout is for serving, and must not cut a start-up migration short.
describe.skipIf(!process.env.DATABASE_URL)('an upgrade whose migration outlasts DATABASE_QUERY_TIMEOUT_MS', () => {
  let database: TestDatabase;
  let api: TestApi | undefined;
  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    // The release before the snapshot-event index (its build locks the inbox against writes).
    await migrateDownTo(database.db, INDEX_MIGRATION);
    await sql`drop index stripe_events_snapshot_event_idx`.execute(database.db);
    await sql`delete from kysely_migration where name = ${INDEX_MIGRATION}`.execute(database.db);
  });
  afterAll(async () => {
    await api?.close();
    await database?.dispose();
  });

  it('starts: the migration runs to its end, however long past the query timeout', async () => {
    // Webhook inserts in flight keep the index build waiting, as a long build would.
    const writer = new pg.Client({ connectionString: database.url! });
    await writer.connect();
    await writer.query('begin');
    await writer.query('lock table stripe_events in row exclusive mode');
    const released = new Promise<void>((resolve) => setTimeout(() => void writer.query('commit').then(() => writer.end()).then(resolve), 2_500));
    const startedAt = Date.now();
    try {
      api = await startApi('postgres', { DATABASE_QUERY_TIMEOUT_MS: '500' }, { database });
    } finally {
      await released;
    }
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(2_000);
    const applied = await sql<{ name: string }>`select name from kysely_migration where name = ${INDEX_MIGRATION}`.execute(database.db);
    expect(applied.rows).toHaveLength(1);
    expect((await fetch(`${api.url}/readyz`)).status).toBe(200);
  }, 30_000);
});
