import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { createDatabase, type DatabaseHandle, type DatabaseKind } from './connect.js';
import { Migrator } from 'kysely/migration';
import type { Db } from './database.js';
import { migrateToLatest } from './migrate.js';
import { migrations } from './migrations/index.js';

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

const SEED_PREFIX = 'settle-pglite-migrated-';
let seed: Promise<Blob> | null = null;

/**
 * A dump of an in-memory PGlite with every migration applied. Starting PGlite runs `initdb` in
 * WebAssembly (seconds of CPU, more than all the migrations); loading a dump of a migrated one
 * takes a fraction of that. Made once per migration set and PGlite version, and kept in the
 * system's temporary folder for every test process (written whole, then renamed into place).
 */
export function migratedPgliteDataDir(): Promise<Blob> {
  seed ??= (async () => {
    // PGlite's version: its package.json, found above its entry point (the package exports no other path to it).
    let dir = dirname(createRequire(import.meta.url).resolve('@electric-sql/pglite'));
    while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
    const hash = createHash('sha256').update(readFileSync(join(dir, 'package.json')));
    for (const [name, m] of Object.entries(migrations)) hash.update(`\0${name}\0${String(m.up)}\0${String(m.down)}`);
    const file = join(tmpdir(), `${SEED_PREFIX}${hash.digest('hex').slice(0, 16)}.tar`);
    try {
      return new Blob([readFileSync(file)]);
    } catch {
      // Not made yet (or made for other migrations): make it.
    }
    const handle = await createDatabase({ pgliteDir: 'memory://' });
    try {
      await migrateToLatest(handle.db);
      const dump = await handle.pglite!.dumpDataDir('none');
      const partial = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
      writeFileSync(partial, Buffer.from(await dump.arrayBuffer()));
      renameSync(partial, file);
      for (const old of readdirSync(tmpdir())) {
        if (old.startsWith(SEED_PREFIX) && join(tmpdir(), old) !== file && old.endsWith('.tar')) rmSync(join(tmpdir(), old), { force: true });
      }
      return dump;
    } finally {
      await handle.close();
    }
  })();
  return seed;
}

/** A fresh, migrated, throwaway database of the given kind. */
export async function createTestDatabase(kind: DatabaseKind, opts: { poolMax?: number } = {}): Promise<TestDatabase> {
  if (kind === 'pglite') {
    const handle = await createDatabase({ pgliteDir: 'memory://', pgliteDataDir: await migratedPgliteDataDir() });
    // Nothing to do unless the dump is behind the migrations.
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

/**
 * Undo every migration after `name` (newest first, by their own `down`): the schema of the
 * release whose last migration it was, for upgrade tests.
 */
export async function migrateDownTo(db: Db, name: string): Promise<void> {
  const { error } = await new Migrator({ db, provider: { getMigrations: async () => migrations } }).migrateTo(name);
  if (error) throw error instanceof Error ? error : new Error(String(error));
}
