import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { toClientFeature } from '../src/flags/flag-definition.js';
import { NEW_HANDLER_FLAG } from '../src/flags/handler-flag.js';
import { startApi } from './harness.js';
import { newOrder } from './rollout-helpers.js';

async function until(check: () => boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * An Unleash that answers 401 for a while (a client token rotated or revoked, a proxy's auth
 * hiccup) makes unleash-client stop polling for good ("Stopping refresh of toggles"). Settle
 * reopens the SDK on a backoff, keeping the flags it knew, so once Unleash accepts the token
 * again a kill switch pulled afterwards still reaches the instance without a restart.
 */
describe('an Unleash that briefly answers 401', () => {
  it('is polled again once it accepts the token, so a later kill switch still applies', async () => {
    let answer = 200;
    let polls = 0;
    let feature = toClientFeature({ name: NEW_HANDLER_FLAG, enabled: true, mode: 'new', rollout_percent: 100 });
    const server = createServer((req, res) => {
      if (req.url?.startsWith('/api/client/features')) {
        polls += 1;
        res.writeHead(answer, { 'content-type': 'application/json' });
        return res.end(answer === 200 ? JSON.stringify({ version: 2, features: [feature] }) : '{}');
      }
      res.writeHead(202).end('{}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const backupDir = mkdtempSync(join(tmpdir(), 'settle-unleash-'));
    const warnings: string[] = [];
    const logger = pino(
      { level: 'warn' },
      new Writable({
        write(chunk: Buffer, _enc, done) {
          for (const line of chunk.toString().split('\n').filter(Boolean)) warnings.push((JSON.parse(line) as { msg: string }).msg);
          done();
        },
      }),
    );
    const api = await startApi('pglite', {
      UNLEASH_URL: `http://127.0.0.1:${(server.address() as { port: number }).port}/api/`,
      UNLEASH_API_TOKEN: 'client-token',
      UNLEASH_REFRESH_MS: '100',
      UNLEASH_BACKUP_DIR: backupDir,
      HANDLER_MODE: 'legacy',
    }, { logger });
    try {
      await until(() => api.settle.deps.flags.view().status.up === true);
      expect((await newOrder(api, 'user_x')).handler).toBe('new');
      answer = 401;
      const from = polls;
      await until(() => polls > from);
      // While Unleash refuses the token (several reopens, each refused again), new orders follow
      // the last known flag, never HANDLER_MODE, and the source is reported down.
      const during: string[] = [];
      for (const until = Date.now() + 800; Date.now() < until; await new Promise((r) => setTimeout(r, 10))) {
        const c = api.settle.deps.flags.choose('user_x');
        during.push(`${c.handler}:${c.basis}`);
      }
      const reopenedWhileRefused = polls - from;
      const gauge = /settle_flag_source_up\{source="unleash"\} 0/.test(await (await fetch(`${api.url}/metrics`)).text());
      expect({ choices: [...new Set(during)], reopenedWhileRefused: reopenedWhileRefused >= 3, gauge }).toEqual({ choices: ['new:flag'], reopenedWhileRefused: true, gauge: true });
      // Unleash accepts the token again, and the owner pulls the kill switch there.
      answer = 200;
      feature = toClientFeature({ name: NEW_HANDLER_FLAG, enabled: false, mode: 'legacy', rollout_percent: 100 });
      await new Promise((r) => setTimeout(r, 3_000)); // 30 refresh intervals
      expect({ pollsAfterRecovery: polls - from > 1, mode: api.settle.deps.flags.view().mode, handler: (await newOrder(api, 'user_x')).handler }).toEqual({
        pollsAfterRecovery: true,
        mode: 'legacy',
        handler: 'legacy',
      });
      // Each reopen is a warning, but not each one a line: one a minute.
      expect(warnings.filter((m) => m.includes('reopening it'))).toHaveLength(1);
      expect(/settle_flag_source_up\{source="unleash"\} 1/.test(await (await fetch(`${api.url}/metrics`)).text())).toBe(true);
    } finally {
      await api.close();
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(backupDir, { recursive: true, force: true });
    }
  });
});
