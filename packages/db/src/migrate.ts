import { sql } from 'kysely';
import { Migrator } from 'kysely/migration';
import { withoutQueryTimeouts, type DatabaseHandle } from './connect.js';
import type { Db } from './database.js';
import { migrations } from './migrations/index.js';

/** Bring the schema up to date; throws with the failing migration's error. */
export async function migrateToLatest(db: Db): Promise<string[]> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/**
 * `migrateToLatest` for a running service's database: on a connection without the pool's query
 * timeouts, so a migration that takes minutes on a large database is not cut short (and the
 * service, failing to start, restarted into the same cut-off migration again and again).
 */
export async function migrateDatabase(handle: DatabaseHandle): Promise<string[]> {
  return withoutQueryTimeouts(handle, migrateToLatest);
}

/** A round trip to the database, for readiness: throws when it cannot be reached. */
export async function pingDatabase(db: Db): Promise<void> {
  await sql`select 1`.execute(db);
}

/** True when every known migration has been applied (for readiness checks). */
export async function migrationsApplied(db: Db): Promise<boolean> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
  const list = await migrator.getMigrations();
  return list.every((m) => m.executedAt !== undefined);
}
