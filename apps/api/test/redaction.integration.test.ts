import { Writable } from 'node:stream';
import { createTestDatabase, TEST_BACKENDS, type TestDatabase } from '@settle/db/testing';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/lib/logger.js';
import { startApi, type TestApi } from './harness.js';

const OWNER = { email: 'grace.owner@settle.test', password: 'owner-password-123' };
const DB_PASSWORD = 'db-password-must-not-leak';

function sink() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, stream };
}

describe('log redaction', () => {
  it('scrubs e-mail addresses and connection-string passwords from messages, fields and errors', () => {
    const { lines, stream } = sink();
    const log = createLogger('info', 'settle', stream);
    log.info({ database: `postgres://settle:${DB_PASSWORD}@db.internal:5432/settle`, url: `postgres://db/settle?sslmode=require&password=${DB_PASSWORD}` }, 'connecting');
    log.warn({ email: 'ann@example.com', nested: { who: 'bob@example.com' } }, 'sign-in refused for carol@example.com');
    log.error({ err: new Error(`connect ECONNREFUSED for dave@example.com via postgresql://u:${DB_PASSWORD}@h/db`) }, 'failed');
    const all = lines.join('');
    expect(all).not.toMatch(/@example\.com/);
    expect(all).not.toContain(DB_PASSWORD);
    expect(all).toContain('[email]');
  });

  describe.each(TEST_BACKENDS)('a whole API run on %s', (kind) => {
    it('logs no e-mail address and no database password, whatever happens', async () => {
      const { lines, stream } = sink();
      let database: TestDatabase | undefined;
      const env: Record<string, string> = { ADMIN_EMAIL: OWNER.email, ADMIN_PASSWORD: OWNER.password, LOG_LEVEL: 'debug' };
      if (kind === 'postgres') {
        database = await createTestDatabase('postgres');
        env.DATABASE_URL = `${database.url}?password=${DB_PASSWORD}`;
      }
      let api: TestApi | undefined;
      try {
        api = await startApi(kind, env, { logger: createLogger('debug', 'settle', stream), ...(database ? { database } : {}) });
        const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
          fetch(`${api!.url}/trpc/${path}`, { method: 'POST', headers: { origin: api!.url, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
        await post('auth.login', { email: 'mallory@evil.example', password: 'guess-password-1' });
        await post('auth.login', { email: OWNER.email, password: 'wrong-password-1' });
        const ok = await post('auth.login', OWNER);
        const cookie = ok.headers.get('set-cookie')!.split(';')[0]!;
        await post('admin.users.create', { email: 'new.hire@settle.test', password: 'new-hire-password', role: 'viewer', reason: 'onboarding' }, { cookie });
        await post('admin.users.create', { email: 'new.hire@settle.test', password: 'new-hire-password', role: 'viewer', reason: 'twice' }, { cookie });
        await fetch(`${api.url}/trpc/admin.orders.list?input=${encodeURIComponent(JSON.stringify({ search: 'victim@example.com\u0000' }))}`, { headers: { cookie } });
      } finally {
        await api?.close();
        await database?.dispose();
      }
      const all = lines.join('');
      expect(lines.length).toBeGreaterThan(3);
      expect(all).not.toMatch(/[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+\.[A-Za-z]{2,}/);
      expect(all).not.toContain(DB_PASSWORD);
    });
  });
});
