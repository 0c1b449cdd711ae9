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
  const fail = { off: false };
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
        features: state.exists
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
  return { server, served, fail };
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
});
