import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
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
  /**
   * On PostgreSQL with `ingestPoolMax`: a small pool of its own for the webhook inbox's inserts, so
   * a pool exhausted by slow console queries or processing never keeps Stripe's deliveries from
   * being stored (they would be answered 503 at the store deadline). Null otherwise.
   */
  ingestPool: pg.Pool | null;
  /** The embedded database when on PGlite. */
  pglite: PGlite | null;
  close(): Promise<void>;
};

export type DatabaseOptions = {
  /** PostgreSQL connection string; unset means the embedded PGlite. */
  databaseUrl?: string | undefined;
  /** PGlite data folder, or `memory://` for an in-memory database. */
  pgliteDir?: string | undefined;
  /**
   * An in-memory PGlite starts from this dump of a data folder (`PGlite.dumpDataDir`) instead of
   * an empty cluster: the tests' fresh databases start from one already migrated (see testing.ts).
   */
  pgliteDataDir?: Blob | undefined;
  poolMax?: number | undefined;
  /** PostgreSQL only: connections of the webhook inbox's own pool (`ingestPool`); 0 or unset: none, it shares `pool`. */
  ingestPoolMax?: number | undefined;
  /** Fail a connection attempt after this long instead of waiting forever (PostgreSQL only). */
  connectTimeoutMs?: number | undefined;
  /**
   * PostgreSQL only: give up on a query after this long. The server cancels it (`statement_timeout`)
   * and, when the server cannot be heard at all (a silent partition), the client gives up too and
   * drops the connection, so the pool opens a fresh one instead of waiting on a dead socket forever.
   * 0 turns both off.
   */
  queryTimeoutMs?: number | undefined;
  /** PostgreSQL only: TCP keepalive probes start after this much silence on a connection. */
  keepAliveDelayMs?: number | undefined;
};

/** What a query that the client gave up on rejects with (pg's message). */
const CLIENT_TIMEOUT = 'Query read timeout';

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

const MAX_PREPARED = 2_000;

/**
 * Kysely sends every query unnamed, so PostgreSQL parses and plans it each time. This wraps the
 * clients Kysely checks out so that data queries go as named prepared statements: parsed once per
 * connection, planned from a cached plan. Statement texts are Kysely's (parameters are never
 * inlined), so their number is bounded by the code's query shapes; past a cap they go unnamed.
 */
function preparingPool(pool: pg.Pool): pg.Pool {
  const names = new Map<string, string>();
  const wrapped = new WeakSet<pg.PoolClient>();
  // Clients whose connection is no longer trusted: given back to the pool, they are destroyed.
  const broken = new WeakSet<pg.PoolClient>();
  const connect = pool.connect.bind(pool) as (cb?: unknown) => unknown;
  const prepare = (client: pg.PoolClient) => {
    // pg-pool gives each checkout a fresh `release`; a broken client is released as broken
    // whatever the caller (Kysely releases without an error) passes.
    const release = client.release.bind(client) as (err?: Error | boolean) => void;
    client.release = (err?: Error | boolean) => release(err ?? (broken.has(client) ? true : undefined));
    if (wrapped.has(client)) return client;
    wrapped.add(client);
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    const named = (...args: unknown[]): unknown => {
      const [text, values] = args;
      if (args.length !== 2 || typeof text !== 'string' || !Array.isArray(values) || !/^\s*(select|insert|update|delete|with)\b/i.test(text)) {
        return query(...args);
      }
      let name = names.get(text);
      if (!name && names.size < MAX_PREPARED) {
        name = `k${names.size}`;
        names.set(text, name);
      }
      return name ? query({ name, text, values }) : query(text, values);
    };
    (client as { query: unknown }).query = (...args: unknown[]) => {
      const result = named(...args);
      if (!(result instanceof Promise)) return result;
      return result.catch((err: unknown) => {
        // pg stops waiting for a timed-out query but keeps the connection, whose next queries
        // would queue behind a reply that never comes: end it, so the pool replaces it.
        if ((err as Error)?.message === CLIENT_TIMEOUT) {
          broken.add(client);
          (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
        }
        throw err;
      });
    };
    return client;
  };
  // Only the promise form (Kysely's, ours); pg-pool's own callback-form use passes through.
  (pool as { connect: unknown }).connect = (cb?: unknown) =>
    typeof cb === 'function' ? connect(cb) : (connect() as Promise<pg.PoolClient>).then(prepare);
  return pool;
}

/** A connection string with every password removed (user info and `?password=`), for logs. */
export function redactConnectionString(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    for (const key of [...u.searchParams.keys()]) if (/pass|secret|key/i.test(key)) u.searchParams.set(key, '***');
    return u.toString();
  } catch {
    return 'postgres';
  }
}

/** A pg pool with the service's settings: timeouts, keepalive, and numbers parsed as numbers. */
function newPool(connectionString: string, options: DatabaseOptions, max: number): pg.Pool {
  const queryTimeout = options.queryTimeoutMs ?? 30_000;
  const pool = new pg.Pool({
    connectionString,
    max,
    types: pgTypes,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    keepAlive: true,
    keepAliveInitialDelayMillis: options.keepAliveDelayMs ?? 10_000,
    ...(queryTimeout > 0
      ? {
          statement_timeout: queryTimeout,
          // The client waits a little longer than the server, so a reachable server's own
          // cancellation (a clean error, connection kept) comes first.
          query_timeout: queryTimeout + 1_000,
          idle_in_transaction_session_timeout: queryTimeout * 2,
        }
      : {}),
  });
  // A client that loses its server emits 'error' (idle ones through the pool, checked-out ones
  // on themselves); without a listener Node would crash the process. The query in flight fails
  // on its own and the pool replaces the client.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

/**
 * One connection factory for the whole service: PostgreSQL when a URL is given, otherwise
 * PGlite in a local folder (or in memory), so a newcomer needs no database server.
 */
export async function createDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  if (options.databaseUrl) {
    const pool = newPool(options.databaseUrl, options, options.poolMax ?? 10);
    const ingestPool = options.ingestPoolMax ? newPool(options.databaseUrl, options, options.ingestPoolMax) : null;
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: preparingPool(pool) }) });
    return {
      db,
      kind: 'postgres',
      description: redactConnectionString(options.databaseUrl),
      pool,
      ingestPool,
      pglite: null,
      close: async () => {
        await db.destroy();
        await ingestPool?.end();
      },
    };
  }
  const dir = options.pgliteDir ?? './.data/pglite';
  const memory = dir.startsWith('memory://');
  if (!memory) mkdirSync(resolve(dir), { recursive: true });
  const pglite = new PGlite(memory ? 'memory://' : resolve(dir), {
    extensions: { pg_trgm },
    ...(memory && options.pgliteDataDir ? { loadDataDir: options.pgliteDataDir } : {}),
  });
  await pglite.waitReady;
  const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) });
  return {
    db,
    kind: 'pglite',
    description: memory ? 'pglite (in memory)' : `pglite at ${resolve(dir)}`,
    pool: null,
    ingestPool: null,
    pglite,
    close: async () => {
      await db.destroy();
      if (!pglite.closed) await pglite.close();
    },
  };
}

/**
 * `work` on a connection without the pool's query timeouts: start-up migrations, which may
 * legitimately run for minutes on a large database (an index build, or waiting for another
 * instance's migrations) and say so themselves (`set local statement_timeout = 0`), which the
 * client's own read timeout would not hear. The idle-in-transaction timeout stays: a client
 * partitioned mid-migration must not hold its locks on the server. On PostgreSQL a pool of one
 * connection, closed after; on PGlite (no timeouts) the database itself.
 */
export async function withoutQueryTimeouts<T>(handle: DatabaseHandle, work: (db: Db) => Promise<T>): Promise<T> {
  if (!handle.pool) return work(handle.db);
  const { statement_timeout: _server, query_timeout: _client, ...options } = handle.pool.options;
  const pool = new pg.Pool({ ...options, max: 1 });
  pool.on('error', () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  try {
    return await work(db);
  } finally {
    await db.destroy();
  }
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
