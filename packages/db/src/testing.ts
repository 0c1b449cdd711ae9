import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createDatabase, type DatabaseHandle, type DatabaseKind } from './connect.js';
import { migrateToLatest } from './migrate.js';

/**
 * The backends database tests run on: PGlite always, PostgreSQL too when `DATABASE_URL` is set
 * (`.ci/run` sets it, so CI runs every database test on both).
 */
export const TEST_BACKENDS: DatabaseKind[] = process.env.DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];

export type TestDatabase = DatabaseHandle & {
  /** Connection string for other processes (PostgreSQL only). */
  url: string | null;
  /** Close and, on PostgreSQL, drop the throwaway database. */
  dispose(): Promise<void>;
};

/** A fresh, migrated, throwaway database of the given kind. */
export async function createTestDatabase(kind: DatabaseKind, opts: { poolMax?: number } = {}): Promise<TestDatabase> {
  if (kind === 'pglite') {
    const handle = await createDatabase({ pgliteDir: 'memory://' });
    await migrateToLatest(handle.db);
    return { ...handle, url: null, dispose: () => handle.close() };
  }
  const adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) throw new Error('DATABASE_URL is required for PostgreSQL tests');
  const name = `settle_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const handle = await createDatabase({ databaseUrl: url.toString(), poolMax: opts.poolMax ?? 10 });
  await migrateToLatest(handle.db);
  return {
    ...handle,
    url: url.toString(),
    dispose: async () => {
      await handle.close();
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      try {
        await c.query(`drop database if exists ${name} with (force)`);
      } finally {
        await c.end();
      }
    },
  };
}
