import { createHash, timingSafeEqual } from 'node:crypto';
import { listFeatureFlags, type Db } from '@settle/db';
import type { FastifyInstance } from 'fastify';
import { toClientFeature } from './flag-definition.js';

export type ClientFeaturesRouteOptions = {
  db: Db;
  /** When set, callers must send it as `Authorization` (as an Unleash client token). */
  token: string | null;
  environment: string;
};

function sameSecret(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * `GET /api/client/features`: the flags stored in Settle's database, in the JSON a real Unleash
 * server returns to its SDKs (version 2, features with their strategies, query, meta), so the
 * unleash-client of every Settle instance polls it and evaluates exactly as it would against
 * Unleash. Supports `If-None-Match`, like Unleash.
 */
export async function clientFeaturesRoute(app: FastifyInstance, opts: ClientFeaturesRouteOptions): Promise<void> {
  app.get('/api/client/features', async (req, reply) => {
    if (opts.token && !sameSecret(req.headers.authorization, opts.token)) {
      return reply.code(401).send({ message: 'a valid client token is required' });
    }
    const rows = await listFeatureFlags(opts.db);
    const revision = rows.reduce((n, r) => n + r.version, 0);
    const etag = `"settle:${createHash('sha256').update(rows.map((r) => `${r.name}@${r.version}`).join(',')).digest('hex').slice(0, 16)}"`;
    reply.header('etag', etag);
    reply.header('cache-control', 'no-cache');
    if (req.headers['if-none-match'] === etag) return reply.code(304).send();
    return {
      version: 2,
      features: rows.map(toClientFeature),
      query: { project: ['default'], environment: opts.environment, inlineSegmentConstraints: true },
      meta: { revisionId: revision, etag, queryHash: 'settle' },
    };
  });
}
