import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { toClientFeature } from '../src/flags/flag-definition.js';
import { NEW_HANDLER_FLAG } from '../src/flags/handler-flag.js';
import { startApi } from './harness.js';

async function until(check: () => boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * An Unleash whose client API starts refusing (a proxy's 404 after a path change, 429, 500):
 * flag changes, the kill switch included, stop arriving, and the operator must see it.
 */
describe.each([404, 429, 500])('an Unleash whose client API starts answering %i', (status) => {
  it('is reported down: settle_flag_source_up 0, fetch errors counted, sourceUp false', async () => {
    let answer = 200;
    let polls = 0;
    const feature = toClientFeature({ name: NEW_HANDLER_FLAG, enabled: true, mode: 'new', rollout_percent: 100 });
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
    const api = await startApi('pglite', {
      UNLEASH_URL: `http://127.0.0.1:${(server.address() as { port: number }).port}/api/`,
      UNLEASH_API_TOKEN: 'client-token',
      UNLEASH_REFRESH_MS: '100',
      UNLEASH_BACKUP_DIR: backupDir,
    });
    try {
      await until(() => api.settle.deps.flags.view().status.up === true);
      answer = status;
      const failedFrom = polls;
      await until(() => polls >= failedFrom + 3);
      await until(() => api.settle.deps.flags.view().status.up === false, 5_000).catch(() => undefined);
      const seen = api.settle.deps.flags.view().status;
      const text = await (await fetch(`${api.url}/metrics`)).text();
      expect({
        up: seen.up,
        consecutiveErrors: seen.consecutiveErrors > 0,
        gauge: /settle_flag_source_up\{source="unleash"\} 0/.test(text),
        errorsCounted: /settle_flag_fetch_errors_total\{source="unleash"\} [1-9]/.test(text),
      }).toEqual({ up: false, consecutiveErrors: true, gauge: true, errorsCounted: true });
    } finally {
      await api.close();
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(backupDir, { recursive: true, force: true });
    }
  });
});
