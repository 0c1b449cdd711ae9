import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEnv } from '../src/env.js';
import { createUnleashAdmin } from '../src/flags/unleash-admin.js';
import { NEW_HANDLER_FLAG } from '../src/flags/handler-flag.js';
import { adminClient, startApi } from './harness.js';
import { newOrder, waitForFlag } from './rollout-helpers.js';

const UNLEASH_URL = process.env.UNLEASH_TEST_URL;
const ADMIN_TOKEN = process.env.UNLEASH_TEST_ADMIN_TOKEN;

/**
 * The SDK reads the environment of its client token (here `production`), while
 * `admin.flags.set` writes to UNLEASH_ENVIRONMENT (default `development`). Were they allowed to
 * differ, the kill switch would answer "saved", be audited, and never reach the flag the
 * instances evaluate: Settle refuses to start that way, and with them agreeing it applies.
 */
describe.skipIf(!UNLEASH_URL || !ADMIN_TOKEN)('a production client token', () => {
  // The body is collected even when skipped: nothing here may need the server.
  const production = () => createUnleashAdmin({ url: UNLEASH_URL!, token: ADMIN_TOKEN!, project: 'default', environment: 'production' });
  let clientToken: string;
  let backupDir: string;
  beforeAll(async () => {
    const res = await fetch(`${UNLEASH_URL!.replace(/\/api\/?$/, '')}/api/admin/api-tokens`, {
      method: 'POST',
      headers: { authorization: ADMIN_TOKEN!, 'content-type': 'application/json' },
      body: JSON.stringify({ tokenName: `settle-env-${Date.now()}`, type: 'client', environment: 'production', projects: ['*'] }),
    });
    clientToken = ((await res.json()) as { secret: string }).secret;
    // The rollout as it stands in production: everyone on the new handler.
    await production().apply(NEW_HANDLER_FLAG, { mode: 'new', rolloutPercent: 100 });
    backupDir = mkdtempSync(join(tmpdir(), 'settle-unleash-'));
  });
  afterAll(async () => {
    await production().apply(NEW_HANDLER_FLAG, { mode: 'legacy', rolloutPercent: 0 });
    rmSync(backupDir, { recursive: true, force: true });
  });
  const env = (extra: Record<string, string> = {}) => ({
    UNLEASH_URL: UNLEASH_URL!,
    UNLEASH_API_TOKEN: clientToken,
    UNLEASH_ADMIN_TOKEN: ADMIN_TOKEN!,
    UNLEASH_REFRESH_MS: '100',
    UNLEASH_BACKUP_DIR: backupDir,
    ...extra,
  });

  it('with the default UNLEASH_ENVIRONMENT, is refused at start, naming both environments', () => {
    // What main.ts does first: no instance starts.
    expect(() => parseEnv({ NODE_ENV: 'test', ...env() })).toThrow(/UNLEASH_API_TOKEN reads the flags of Unleash environment "production", but UNLEASH_ENVIRONMENT is "development"/);
  });

  it('with UNLEASH_ENVIRONMENT=production, takes the kill switch where the instances read it', async () => {
    const api = await startApi('pglite', env({ UNLEASH_ENVIRONMENT: 'production' }));
    try {
      const owner = await adminClient(api, 'owner', 'owner');
      await waitForFlag(owner, { mode: 'new', rolloutPercent: 100 });
      await owner.admin.flags.set.mutate({ mode: 'legacy', reason: 'incident: kill switch' });
      await waitForFlag(owner, { mode: 'legacy' });
      expect((await newOrder(api, 'user_after_kill')).handler).toBe('legacy');
    } finally {
      await api.close();
    }
  });
});
