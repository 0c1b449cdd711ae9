import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAdminToken } from '@settle/db';
import { TEST_BACKENDS } from '@settle/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NEW_HANDLER_FLAG } from '../src/flags/handler-flag.js';
import { orderState, startApi, trpcClient, type TestApi } from './harness.js';
import { inRollout, newOrder, waitForFlag } from './rollout-helpers.js';

/**
 * Against a real Unleash server (`.ci/unleash.sh` starts unleash-server on loopback and exports
 * these). Locally the test skips without them; in CI (`CI=true`) their absence is a failure.
 */
const UNLEASH_URL = process.env.UNLEASH_TEST_URL;
const CLIENT_TOKEN = process.env.UNLEASH_TEST_API_TOKEN;
const ADMIN_TOKEN = process.env.UNLEASH_TEST_ADMIN_TOKEN;
const available = Boolean(UNLEASH_URL && CLIENT_TOKEN && ADMIN_TOKEN);

if (!available && process.env.CI === 'true') {
  describe('a real Unleash server', () => {
    it('is available in CI', () => {
      throw new Error('UNLEASH_TEST_URL, UNLEASH_TEST_API_TOKEN and UNLEASH_TEST_ADMIN_TOKEN must be set in CI (.ci/run sources .ci/unleash.sh)');
    });
  });
}

describe.skipIf(!available).each(TEST_BACKENDS)('handler rollout through a real Unleash server on %s', (kind) => {
  let api: TestApi;
  let owner: ReturnType<typeof trpcClient>;
  let backupDir: string;
  beforeAll(async () => {
    backupDir = mkdtempSync(join(tmpdir(), 'settle-unleash-'));
    api = await startApi(kind, {
      UNLEASH_URL: UNLEASH_URL!,
      UNLEASH_API_TOKEN: CLIENT_TOKEN!,
      UNLEASH_ADMIN_TOKEN: ADMIN_TOKEN!,
      UNLEASH_REFRESH_MS: '200',
      UNLEASH_BACKUP_DIR: backupDir,
      HANDLER_MODE: 'new',
    });
    owner = trpcClient(api.url, (await createAdminToken(api.db, { name: 'release-owner', role: 'owner', createdBy: 'test' })).token);
  });
  afterAll(async () => {
    await api?.close();
    rmSync(backupDir, { recursive: true, force: true });
  });

  const unleashAdmin = async (path: string) => {
    const res = await fetch(`${UNLEASH_URL!.replace(/\/api\/?$/, '')}/api/admin${path}`, { headers: { authorization: ADMIN_TOKEN! } });
    expect(res.status).toBe(200);
    return res.json() as Promise<Record<string, unknown>>;
  };

  it('flips the flag and changes the rollout in Unleash through admin.flags.set; new orders follow', async () => {
    const users = Array.from({ length: 100 }, (_, i) => `unleash_${kind}_${i}`);
    const handlersOf = async () => {
      const out: (Awaited<ReturnType<typeof newOrder>> & { userId: string })[] = [];
      for (const userId of users.slice(0, 40)) out.push({ userId, ...(await newOrder(api, userId)) });
      return out;
    };

    // Off (the kill switch): everyone on legacy. Creates the flag in Unleash if it is missing.
    await owner.admin.flags.set.mutate({ mode: 'legacy', rolloutPercent: 0, reason: 'start from legacy' });
    expect(await waitForFlag(owner, { mode: 'legacy' })).toMatchObject({ source: 'unleash', sourceUp: true, stored: null });
    expect((await handlersOf()).every((o) => o.handler === 'legacy' && !o.shadow)).toBe(true);

    await owner.admin.flags.set.mutate({ mode: 'new', rolloutPercent: 100, reason: 'everyone on the new handler' });
    await waitForFlag(owner, { mode: 'new', rolloutPercent: 100 });
    expect((await handlersOf()).every((o) => o.handler === 'new')).toBe(true);

    // The strategy as Unleash itself stores it.
    const feature = await unleashAdmin(`/projects/default/features/${NEW_HANDLER_FLAG}`);
    const env = (feature.environments as { name: string; enabled: boolean; strategies: { name: string; parameters: Record<string, string> }[] }[])
      .find((e) => e.name === 'development')!;
    expect(env.enabled).toBe(true);
    expect(env.strategies).toEqual([expect.objectContaining({ name: 'flexibleRollout', parameters: { rollout: '100', stickiness: 'userId', groupId: NEW_HANDLER_FLAG } })]);

    await owner.admin.flags.set.mutate({ mode: 'new', rolloutPercent: 30, reason: 'back to 30%' });
    await waitForFlag(owner, { mode: 'new', rolloutPercent: 30 });
    const split: (Awaited<ReturnType<typeof newOrder>> & { userId: string })[] = [];
    for (const userId of users) split.push({ userId, ...(await newOrder(api, userId)) });
    for (const o of split) expect(o.handler, o.userId).toBe(inRollout(o.userId, 30) ? 'new' : 'legacy');
    const onNew = split.filter((o) => o.handler === 'new').length;
    expect(onNew).toBeGreaterThan(10);
    expect(onNew).toBeLessThan(55);

    await owner.admin.flags.set.mutate({ mode: 'shadow', rolloutPercent: 100, reason: 'watch first' });
    await waitForFlag(owner, { mode: 'shadow', rolloutPercent: 100 });
    const shadowed = await handlersOf();
    expect(shadowed.every((o) => o.handler === 'legacy' && o.shadow)).toBe(true);
    expect((await orderState(api.db, shadowed[0]!.orderId)).order.shadow_state).toMatchObject({ handler: 'new', status: 'pending' });

    // Kill switch: the flag is turned off in Unleash; the orders already created keep their handler.
    const kept = split.find((o) => o.handler === 'new')!;
    await owner.admin.flags.set.mutate({ mode: 'legacy', reason: 'roll back' });
    await waitForFlag(owner, { mode: 'legacy' });
    expect((await handlersOf()).every((o) => o.handler === 'legacy' && !o.shadow)).toBe(true);
    expect((await orderState(api.db, kept.orderId)).order.handler).toBe('new');

    const audit = await api.db.selectFrom('admin_audit').selectAll().where('action', '=', 'flags.set').orderBy('id').execute();
    expect(audit.map((a) => [a.actor, a.reason, (a.details as { source: string }).source, (a.details as { mode: string }).mode])).toEqual([
      ['token:release-owner', 'start from legacy', 'unleash', 'legacy'],
      ['token:release-owner', 'everyone on the new handler', 'unleash', 'new'],
      ['token:release-owner', 'back to 30%', 'unleash', 'new'],
      ['token:release-owner', 'watch first', 'unleash', 'shadow'],
      ['token:release-owner', 'roll back', 'unleash', 'legacy'],
    ]);
  });
});
