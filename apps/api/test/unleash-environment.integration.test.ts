import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createUnleashAdmin } from '../src/flags/unleash-admin.js';
import { NEW_HANDLER_FLAG } from '../src/flags/handler-flag.js';
import { adminClient, startApi } from './harness.js';
import { newOrder, waitForFlag } from './rollout-helpers.js';

const UNLEASH_URL = process.env.UNLEASH_TEST_URL;
const ADMIN_TOKEN = process.env.UNLEASH_TEST_ADMIN_TOKEN;

/**
 * the SDK reads the environment of its client token (here `production`), while
 * `admin.flags.set` writes to UNLEASH_ENVIRONMENT (default `development`). Nothing checks that
 * they are the same: the kill switch answers "saved, applies within one poll", is audited, and
 * never reaches the flag the instances evaluate; new orders stay on the new handler.
 */
describe.skipIf(!UNLEASH_URL || !ADMIN_TOKEN)('a production client token with the default UNLEASH_ENVIRONMENT', () => {
  it('either refuses the kill switch or applies it to the flag the SDK evaluates', async () => {
    const root = UNLEASH_URL!.replace(/\/api\/?$/, '');
    const res = await fetch(`${root}/api/admin/api-tokens`, {
      method: 'POST',
      headers: { authorization: ADMIN_TOKEN!, 'content-type': 'application/json' },
      body: JSON.stringify({ tokenName: `settle-env-${Date.now()}`, type: 'client', environment: 'production', projects: ['*'] }),
    });
    const clientToken = ((await res.json()) as { secret: string }).secret;
    // The rollout as it stands in production: everyone on the new handler.
    const production = createUnleashAdmin({ url: UNLEASH_URL!, token: ADMIN_TOKEN!, project: 'default', environment: 'production' });
    await production.apply(NEW_HANDLER_FLAG, { mode: 'new', rolloutPercent: 100 });
    const backupDir = mkdtempSync(join(tmpdir(), 'settle-unleash-'));
    const api = await startApi('pglite', {
      UNLEASH_URL: UNLEASH_URL!,
      UNLEASH_API_TOKEN: clientToken,
      UNLEASH_ADMIN_TOKEN: ADMIN_TOKEN!,
      UNLEASH_REFRESH_MS: '100',
      UNLEASH_BACKUP_DIR: backupDir,
    });
    try {
      const owner = await adminClient(api, 'owner', 'owner');
      await waitForFlag(owner, { mode: 'new', rolloutPercent: 100 });
      const killed = await owner.admin.flags.set.mutate({ mode: 'legacy', reason: 'incident: kill switch' }).then(
        () => 'saved',
        (err: { data?: { code?: string } }) => `refused:${err.data?.code}`,
      );
      await new Promise((r) => setTimeout(r, 2_000)); // 20 polls
      const handler = (await newOrder(api, 'user_after_kill')).handler;
      expect(killed === 'saved' ? handler : 'refused').toBe(killed === 'saved' ? 'legacy' : 'refused');
    } finally {
      await api.close();
      await production.apply(NEW_HANDLER_FLAG, { mode: 'legacy', rolloutPercent: 0 });
      rmSync(backupDir, { recursive: true, force: true });
    }
  });
});
