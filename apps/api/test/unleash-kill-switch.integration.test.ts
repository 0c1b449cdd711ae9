import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAdminToken } from '@settle/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NEW_HANDLER_FLAG } from '../src/flags/handler-flag.js';
import { startApi, trpcClient, type TestApi } from './harness.js';
import { newOrder, waitForFlag } from './rollout-helpers.js';

/**
 * A local Unleash: the Admin API calls Settle makes and the client API the SDK polls, recording
 * after every admin write what an SDK polling at that moment would be served (a real server
 * cannot show the states in between).
 */
function fakeUnleash() {
  type Strategy = { id: string; name: string; parameters: Record<string, string>; constraints: unknown[]; variants: unknown[] };
  const state: { exists: boolean; enabled: boolean; strategies: Strategy[] } = { exists: false, enabled: false, strategies: [] };
  const served: { call: string; enabled: boolean; variant: string | null; rollout: string | null }[] = [];
  const fail = { off: false, strategy: false };
  /** The environment the client API says it serves (`query.environment`); null: not said. */
  const client = { environment: null as string | null };
  const body = (req: IncomingMessage) =>
    new Promise<unknown>((resolve) => {
      let s = '';
      req.on('data', (c) => (s += c));
      req.on('end', () => resolve(s ? JSON.parse(s) : null));
    });
  const snap = (call: string) =>
    served.push({
      call,
      enabled: state.enabled,
      variant: (state.strategies[0]?.variants[0] as { name?: string } | undefined)?.name ?? null,
      rollout: state.strategies[0]?.parameters.rollout ?? null,
    });
  const server: Server = createServer(async (req, res) => {
    const url = req.url!.split('?')[0]!;
    const send = (status: number, json?: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(json === undefined ? '' : JSON.stringify(json));
    };
    const b = await body(req);
    if (req.method === 'GET' && url === '/api/client/features') {
      return send(200, {
        version: 2,
        ...(client.environment ? { query: { project: ['default'], environment: client.environment } } : {}),
        features: client.environment && client.environment !== 'development' ? [] : state.exists
          ? [{ name: NEW_HANDLER_FLAG, type: 'release', enabled: state.enabled, project: 'default', stale: false, impressionData: false, strategies: state.strategies, variants: [] }]
          : [],
      });
    }
    if (url.startsWith('/api/client/')) return send(202, {});
    const features = '/api/admin/projects/default/features';
    const strategies = `${features}/${NEW_HANDLER_FLAG}/environments/development/strategies`;
    if (req.method === 'POST' && url === features) {
      if (state.exists) return send(409, { message: 'exists' });
      state.exists = true;
      snap('create');
      return send(201, {});
    }
    if (req.method === 'GET' && url === strategies) return send(200, state.strategies);
    if ((req.method === 'POST' && url === strategies) || (req.method === 'PUT' && url.startsWith(`${strategies}/`))) {
      if (fail.strategy) return send(503, { message: 'Unleash briefly unavailable' });
      state.strategies = [{ id: 's1', ...(b as Omit<Strategy, 'id'>) }];
      snap(`${req.method} strategy`);
      return send(200, state.strategies[0]);
    }
    const toggle = `${features}/${NEW_HANDLER_FLAG}/environments/development/`;
    if (req.method === 'POST' && url === `${toggle}on`) {
      state.enabled = true;
      snap('on');
      return send(200);
    }
    if (req.method === 'POST' && url === `${toggle}off`) {
      if (fail.off) return send(503, { message: 'Unleash briefly unavailable' });
      state.enabled = false;
      snap('off');
      return send(200);
    }
    return send(404, { message: `not faked: ${req.method} ${url}` });
  });
  return { server, served, fail, client };
}

describe('the kill switch through Unleash\'s Admin API', () => {
  const fake = fakeUnleash();
  let api: TestApi;
  let owner: ReturnType<typeof trpcClient>;
  let backupDir: string;
  beforeAll(async () => {
    await new Promise<void>((r) => fake.server.listen(0, '127.0.0.1', r));
    const { port } = fake.server.address() as { port: number };
    backupDir = mkdtempSync(join(tmpdir(), 'settle-unleash-'));
    api = await startApi('pglite', {
      UNLEASH_URL: `http://127.0.0.1:${port}/api/`,
      UNLEASH_API_TOKEN: 'client-token',
      UNLEASH_ADMIN_TOKEN: 'admin-token',
      UNLEASH_REFRESH_MS: '100',
      UNLEASH_BACKUP_DIR: backupDir,
      HANDLER_MODE: 'legacy',
    });
    owner = trpcClient(api.url, (await createAdminToken(api.db, { name: 'release-owner', role: 'owner', createdBy: 'test' })).token);
  });
  afterAll(async () => {
    await api?.close();
    await new Promise<void>((r) => fake.server.close(() => r()));
    rmSync(backupDir, { recursive: true, force: true });
  });

  it('from shadow to legacy, never serves the new handler on the way', async () => {
    await owner.admin.flags.set.mutate({ mode: 'shadow', rolloutPercent: 100, reason: 'watch the new handler first' });
    await waitForFlag(owner, { mode: 'shadow', rolloutPercent: 100 });
    expect(await newOrder(api, 'user_a')).toMatchObject({ handler: 'legacy', shadow: true });
    fake.served.length = 0;
    await owner.admin.flags.set.mutate({ mode: 'legacy', reason: 'shadow shows a problem: stop' });
    expect(fake.served.map((s) => s.call)).toEqual(['off', 'PUT strategy']);
    expect(fake.served.filter((s) => s.enabled && s.variant === 'new')).toEqual([]);
  });

  it('a kill switch Unleash refuses halfway leaves the orders where they were (legacy, shadowed), not on the new handler', async () => {
    await owner.admin.flags.set.mutate({ mode: 'shadow', rolloutPercent: 100, reason: 'watch again' });
    await waitForFlag(owner, { mode: 'shadow', rolloutPercent: 100 });
    fake.fail.off = true;
    await expect(owner.admin.flags.set.mutate({ mode: 'legacy', reason: 'stop' })).rejects.toMatchObject({ data: { code: expect.any(String) } });
    await new Promise((r) => setTimeout(r, 600)); // several polls
    const order = await newOrder(api, 'user_b');
    expect({ mode: api.settle.deps.flags.view().mode, handler: order.handler }).toEqual({ mode: 'shadow', handler: 'legacy' });
    fake.fail.off = false;
  });

  it('a kill switch that turned the flag off before Unleash refused the strategy is audited as applied, and says so', async () => {
    await owner.admin.flags.set.mutate({ mode: 'new', rolloutPercent: 100, reason: 'everyone on new' });
    await waitForFlag(owner, { mode: 'new', rolloutPercent: 100 });
    fake.fail.strategy = true;
    const refused = await owner.admin.flags.set.mutate({ mode: 'legacy', reason: 'incident 7: kill switch' }).then(
      () => null,
      (err: { message: string; data?: { code?: string } }) => ({ code: err.data?.code, message: err.message }),
    );
    fake.fail.strategy = false;
    expect(refused?.code).toBe('SERVICE_UNAVAILABLE');
    expect(refused?.message).toMatch(/only part of the change.*turned the flag off in environment "development": every new order is on legacy.*answered 503/);
    // It took effect: the flag is off, new orders are on legacy.
    await waitForFlag(owner, { mode: 'legacy' });
    expect((await newOrder(api, 'user_c')).handler).toBe('legacy');
    const audit = await api.db.selectFrom('admin_audit').selectAll().where('action', '=', 'flags.set').orderBy('id', 'desc').limit(1).executeTakeFirstOrThrow();
    expect({ reason: audit.reason, details: audit.details }).toMatchObject({
      reason: 'incident 7: kill switch',
      details: { source: 'unleash', mode: 'legacy', outcome: 'partly_applied', applied: ['off'], before: { mode: 'new', rolloutPercent: 100 } },
    });
  });

  it('a change Unleash saved in one environment while the client token reads another is answered UNAVAILABLE, not "saved"', async () => {
    fake.client.environment = 'production';
    try {
      await expect(owner.admin.flags.set.mutate({ mode: 'legacy', reason: 'kill switch into the wrong environment' })).rejects.toMatchObject({
        message: expect.stringMatching(/saved in Unleash environment "development" \(project "default"\), but instances read environment "production"/),
        data: { code: 'SERVICE_UNAVAILABLE' },
      });
      // What Unleash accepted is audited all the same.
      const audit = await api.db.selectFrom('admin_audit').selectAll().where('action', '=', 'flags.set').orderBy('id', 'desc').limit(1).executeTakeFirstOrThrow();
      expect(audit.reason).toBe('kill switch into the wrong environment');
    } finally {
      fake.client.environment = null;
    }
  });
});
