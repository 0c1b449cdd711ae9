/**
 * The admin-token CLI and a running server never share one PGlite folder: the server's lock file
 * makes the CLI refuse (pointing at the console and admin.tokens.*), and a stale lock left by a
 * killed server does not block anyone.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { holdPgliteLock, pgliteLockHolder } from '../src/lib/pglite-lock.js';

const API_DIR = fileURLToPath(new URL('..', import.meta.url));

function adminToken(pgliteDir: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const env: NodeJS.ProcessEnv = { ...process.env, PGLITE_DIR: pgliteDir, NODE_ENV: 'development' };
    delete env.DATABASE_URL;
    execFile(join(API_DIR, '../../node_modules/.bin/tsx'), ['src/admin-token.ts', ...args], { cwd: API_DIR, env }, (err, stdout, stderr) =>
      done({ code: err ? Number(err.code) : 0, stdout, stderr }),
    );
  });
}

describe('the PGlite folder of a running server', () => {
  const root = mkdtempSync(join(tmpdir(), 'settle-lock-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('makes admin-token refuse and name the ways that work', { timeout: 60_000 }, async () => {
    const dir = join(root, 'held', 'pglite');
    holdPgliteLock(dir).setUrl('http://127.0.0.1:3999');
    const r = await adminToken(dir, 'create', 'ops-bot', 'operator');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`A running Settle server (pid ${process.pid}, http://127.0.0.1:3999) holds the PGlite folder`);
    expect(r.stderr).toContain('admin.tokens.create');
  });

  it('ignores a stale lock left by a process that is gone', { timeout: 180_000 }, async () => {
    const dir = join(root, 'stale', 'pglite');
    holdPgliteLock(dir);
    // Rewrite the lock as a killed server would have left it.
    writeFileSync(`${dir}.server.lock`, JSON.stringify({ pid: 2 ** 22 + 7, url: null }));
    expect(pgliteLockHolder(dir)).toBeNull();
    const r = await adminToken(dir, 'create', 'ops-bot', 'operator');
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^stl_admin_\S+\n$/);
  });
});
