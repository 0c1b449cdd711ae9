import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

/**
 * The built console's directory, or null when it has not been built: ADMIN_CONSOLE_DIR, else
 * apps/admin/dist (reached from src/console/ when run from source, from dist/ once bundled).
 */
export function consoleDir(configured: string | undefined): string | null {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const candidates = configured
    ? [resolve(configured)]
    : [resolve(here, '../../../admin/dist'), resolve(here, '../../admin/dist')];
  return candidates.find((dir) => existsSync(resolve(dir, 'index.html'))) ?? null;
}

// The console needs nothing from other origins, and must never be framed (clickjacking an override button).
const CONSOLE_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
};

/** Serve the built console at /admin/, with every unknown path under it answered by index.html (client-side routes). */
export async function adminConsoleRoute(app: FastifyInstance, opts: { dir: string }): Promise<void> {
  app.get('/admin', (_req, reply) => reply.redirect('/admin/'));
  // Browsers ask for /favicon.ico on their own (the console's pages name the SVG icon).
  app.get('/favicon.ico', (_req, reply) => reply.redirect('/admin/favicon.svg'));
  await app.register(
    async (scope) => {
      scope.addHook('onSend', async (_req, reply) => {
        reply.headers(CONSOLE_HEADERS);
      });
      await scope.register(fastifyStatic, {
        root: opts.dir,
        prefix: '/',
        wildcard: true,
        index: ['index.html'],
        cacheControl: false,
        // Source maps would hand out the console's source; builds make none, and none is served.
        allowedPath: (path) => !path.endsWith('.map'),
        setHeaders(reply, path) {
          // Hashed asset names never change content; index.html must always be revalidated.
          reply.header('cache-control', path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
        },
      });
      scope.setNotFoundHandler((req, reply) => {
        if (req.method !== 'GET' && req.method !== 'HEAD') return reply.code(404).send({ error: 'not found' });
        // A missing asset is a 404, not the app shell (which would confuse the browser's module loader).
        if (/\.[a-z0-9]+$/i.test(req.url.split('?')[0] ?? '')) return reply.code(404).send({ error: 'not found' });
        return reply.header('cache-control', 'no-cache').type('text/html; charset=utf-8').sendFile('index.html');
      });
    },
    { prefix: '/admin' },
  );
}
