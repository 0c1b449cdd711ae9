import { createTestDatabase, type TestDatabase } from '@settle/db/testing';
import { afterAll, beforeAll } from 'vitest';
import { spawnApi, type ApiProcess } from './cluster.js';

/**
 * For a describe block: a throwaway PostgreSQL database, and API processes started on it that
 * are killed (and the database dropped) when the block ends.
 */
export function useCluster() {
  const procs: ApiProcess[] = [];
  const cluster = {
    database: undefined as unknown as TestDatabase,
    async spawn(env: Record<string, string> = {}, port?: number, opts: { until?: RegExp } = {}): Promise<ApiProcess> {
      const p = await spawnApi(cluster.database.url!, env, port, opts);
      procs.push(p);
      return p;
    },
  };
  beforeAll(async () => {
    cluster.database = await createTestDatabase('postgres');
  });
  afterAll(async () => {
    for (const p of procs) p.proc.kill('SIGKILL');
    await cluster.database?.dispose();
  });
  return cluster;
}
