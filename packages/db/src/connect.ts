import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect } from 'kysely';
import { PGliteDialect } from 'kysely-pglite-dialect';
import pg from 'pg';
import type { Database, Db } from './database.js';

export type DatabaseKind = 'postgres' | 'pglite';

export type DatabaseHandle = {
  db: Db;
  kind: DatabaseKind;
  /** Where the data lives, with any password removed: for logs. */
  description: string;
  /** The pg pool when on PostgreSQL (LISTEN/NOTIFY and raw prepared statements use it). */
  pool: pg.Pool | null;
  close(): Promise<void>;
};

export type DatabaseOptions = {
  /** PostgreSQL connection string; unset means the embedded PGlite. */
  databaseUrl?: string | undefined;
  /** PGlite data folder, or `memory://` for an in-memory database. */
  pgliteDir?: string | undefined;
  poolMax?: number | undefined;
  /** Fail a connection attempt after this long instead of waiting forever (PostgreSQL only). */
  connectTimeoutMs?: number | undefined;
};

// int8 (count(*), bigint money columns) as numbers, as PGlite returns them: every amount here
// is in minor units and far below 2^53.
const INT8_OID = 20;
const NUMERIC_OID = 1700;
const pgTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID || oid === NUMERIC_OID) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format);
  },
};

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres';
  }
}

/**
 * One connection factory for the whole service: PostgreSQL when a URL is given, otherwise
 * PGlite in a local folder (or in memory), so a newcomer needs no database server.
 */
export async function createDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  if (options.databaseUrl) {
    const pool = new pg.Pool({
      connectionString: options.databaseUrl,
      max: options.poolMax ?? 10,
      types: pgTypes,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    });
    // A client that loses its server emits 'error' (idle ones through the pool, checked-out ones
    // on themselves); without a listener Node would crash the process. The query in flight fails
    // on its own and the pool replaces the client.
    pool.on('error', () => {});
    pool.on('connect', (client) => client.on('error', () => {}));
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return { db, kind: 'postgres', description: redact(options.databaseUrl), pool, close: () => db.destroy() };
  }
  const dir = options.pgliteDir ?? './.data/pglite';
  const memory = dir.startsWith('memory://');
  if (!memory) mkdirSync(resolve(dir), { recursive: true });
  const pglite = new PGlite(memory ? 'memory://' : resolve(dir));
  await pglite.waitReady;
  const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) });
  return {
    db,
    kind: 'pglite',
    description: memory ? 'pglite (in memory)' : `pglite at ${resolve(dir)}`,
    pool: null,
    close: async () => {
      await db.destroy();
      if (!pglite.closed) await pglite.close();
    },
  };
}

/**
 * One query on a pooled connection, released exactly once (a broken one is discarded). Used
 * instead of `pool.query`, whose error path can release a client twice when the server
 * terminates connections.
 */
export async function queryOnce<R extends pg.QueryResultRow = pg.QueryResultRow>(pool: pg.Pool, config: pg.QueryConfig): Promise<pg.QueryResult<R>> {
  const client = await pool.connect();
  let broken = false;
  try {
    return await client.query<R>(config);
  } catch (err) {
    broken = (err as { code?: string }).code === undefined || /^(08|57)/.test((err as { code: string }).code);
    throw err;
  } finally {
    client.release(broken);
  }
}
